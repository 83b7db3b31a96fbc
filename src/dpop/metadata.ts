/**
 * For the authorization server metadata (RFC 8414; RFC 9449 §5.1): the proof algorithms accepted.
 * Pass `config.dpop.algorithms`.
 */
export const dpopSigningAlgValuesSupported = (algorithms: readonly string[]): { dpop_signing_alg_values_supported: string[] } => ({
  dpop_signing_alg_values_supported: [...algorithms],
});
