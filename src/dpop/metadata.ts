import type { AccessTokenRecord } from '../tokens/store.js';
import type { DpopContext } from './context.js';

/**
 * For the authorization server metadata (RFC 8414; RFC 9449 §5.1): the proof algorithms accepted.
 * Pass `config.dpop.algorithms`.
 */
export const dpopSigningAlgValuesSupported = (algorithms: readonly string[]): { dpop_signing_alg_values_supported: string[] } => ({
  dpop_signing_alg_values_supported: [...algorithms],
});

/** Same, from a running DpopContext. */
export const dpopMetadataOf = (dpop: DpopContext) => dpopSigningAlgValuesSupported(dpop.verifier.algorithms);

/** For introspection (RFC 7662 + RFC 9449 §6.2): `cnf: {jkt}` of a bound token, else nothing. */
export const cnfOf = (record: AccessTokenRecord): { cnf: { jkt: string } } | Record<string, never> =>
  record.cnf ? { cnf: { jkt: record.cnf.jkt } } : {};
