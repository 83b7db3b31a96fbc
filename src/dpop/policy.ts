/**
 * The proof-of-possession policy (pure). `off`: the server neither binds sessions nor asks for proofs
 * (a DPoP header at the token endpoint is ignored, as by a server without DPoP support, RFC 9449 §5).
 * `optional`: a valid proof from the device key binds the session; without one the session is a
 * Bearer session. `required`: every exchange and every bearer-sequence call must carry a proof from
 * the asset token's `cnf` key.
 */
export const PROOF_OF_POSSESSION_POLICIES = ['off', 'optional', 'required'] as const;
export type ProofOfPossession = (typeof PROOF_OF_POSSESSION_POLICIES)[number];

/** The issuer's own setting wins over the global default. */
export function policyFor(issuer: { proofOfPossession?: ProofOfPossession | undefined } | undefined, globalPolicy: ProofOfPossession): ProofOfPossession {
  return issuer?.proofOfPossession ?? globalPolicy;
}

/** Which authorization schemes a resource can accept, given every policy in force (for challenges). */
export function acceptedSchemes(policies: ProofOfPossession[]): { bearer: boolean; dpop: boolean } {
  return { bearer: policies.some((p) => p !== 'required'), dpop: policies.some((p) => p !== 'off') };
}

/** What the token endpoint does with an exchange, before any proof is verified. */
export type ExchangeBinding =
  /** Issue a Bearer session; a DPoP header, if any, is ignored. */
  | 'bearer'
  /** Verify the proof; its key must be the asset token's cnf key. */
  | 'bind_to_cnf'
  /** Verify the proof; the asset token has no cnf, so the session is bound to the proof's key (plain RFC 9449). */
  | 'bind_to_proof_key'
  /** Refuse: required, but no proof was sent. */
  | 'proof_missing'
  /** Refuse: required, but the asset token names no key to prove. */
  | 'cnf_missing';

export function exchangeBinding(policy: ProofOfPossession, hasProof: boolean, hasCnf: boolean): ExchangeBinding {
  if (policy === 'off') return 'bearer';
  if (policy === 'required' && !hasCnf) return 'cnf_missing';
  if (!hasProof) return policy === 'required' ? 'proof_missing' : 'bearer';
  return hasCnf ? 'bind_to_cnf' : 'bind_to_proof_key';
}

/** How a resource treats one presented token (RFC 9449 §7). */
export type ResourceAccess =
  /** Plain RFC 6750 Bearer use is fine. */
  | 'accept_bearer'
  /** A proof from `jkt` with `ath` over the token must come with the request. */
  | 'verify_proof'
  /** §7.2: a DPoP-bound access token sent as Bearer (a downgrade): refused. */
  | 'bound_token_as_bearer'
  /** The policy demands a proof but the request is Bearer. */
  | 'proof_required'
  /** The DPoP scheme with a token that names no key. */
  | 'not_bound';

/**
 * `bound`: an access token issued with cnf.jkt is bound for its whole life, whatever the policy says
 * today; an asset token's cnf key is demanded only when the issuer's policy is `required`.
 */
export function resourceAccess(scheme: 'Bearer' | 'DPoP', key: { jkt: string; bound: boolean } | undefined, policy: ProofOfPossession): ResourceAccess {
  if (scheme === 'DPoP') return key ? 'verify_proof' : 'not_bound';
  if (key?.bound) return 'bound_token_as_bearer';
  return policy === 'required' ? 'proof_required' : 'accept_bearer';
}
