import type { AssetClaims } from '../assertion/claims-policy.js';
import { AssertionRejected, rejectionDetail } from '../assertion/rejections.js';
import { InvalidDpopProof, UseDpopNonce, type OAuthError, type OAuthErrorOptions } from '../oauth/errors.js';
import { DPOP_NONCE_HEADER } from './constants.js';
import { policyOf, type DpopContext } from './context.js';
import { exchangeBinding } from './policy.js';
import { DpopProofRejected, isPublicJwk, jwkThumbprint, verifyDpopProof, type ProofRequest } from './proof.js';

/** A refused proof at the token endpoint: RFC 9449 §5 400 JSON, no WWW-Authenticate. */
export function tokenEndpointProofError(rejection: DpopProofRejected, dpop: DpopContext, options: OAuthErrorOptions = {}): OAuthError {
  const debug = rejectionDetail(rejection);
  const nonces = dpop.verifier.nonces;
  if (rejection.reason === 'nonce_required' && nonces) {
    return new UseDpopNonce(rejection.hint, { ...options, debug, headers: { [DPOP_NONCE_HEADER]: nonces.current() } });
  }
  return new InvalidDpopProof(rejection.hint, { ...options, debug });
}

/** RFC 7638 thumbprint of the asset token's cnf.jwk; a private or unusable key is a bad asset token. */
export async function cnfThumbprint(claims: AssetClaims): Promise<string | undefined> {
  if (!claims.cnfJwk) return undefined;
  if (!isPublicJwk(claims.cnfJwk)) throw new AssertionRejected('invalid_claim', 'assertion cnf.jwk must be a public key');
  try {
    return await jwkThumbprint(claims.cnfJwk);
  } catch (err) {
    throw new AssertionRejected('invalid_claim', 'assertion cnf.jwk is not a usable key', (err as Error).message);
  }
}

/** The key a new session is bound to (its cnf.jkt), and whether the proof came from the asset token's own cnf key. */
export interface SessionBinding {
  jkt: string;
  cnfProven: boolean;
}

/**
 * Token endpoint (RFC 9449 §5, §6): decides whether the new session is bound and to which key.
 * Returns the binding for the access token record, or undefined for a Bearer session. Throws
 * AssertionRejected when the asset token cannot satisfy the policy, and DpopProofRejected for the
 * proof (`missing` when the policy wants one and none came); the grant maps both.
 */
export async function bindExchange(claims: AssetClaims, presented: ProofRequest, dpop: DpopContext): Promise<SessionBinding | undefined> {
  const policy = policyOf(dpop, claims.iss);
  if (policy === 'off') return undefined; // a server without DPoP ignores the header (§5)
  if (claims.cnfJwk && !isPublicJwk(claims.cnfJwk)) throw new AssertionRejected('invalid_claim', 'assertion cnf.jwk must be a public key');
  const decision = exchangeBinding(policy, presented.proofs.length > 0, claims.cnfJwk !== undefined);
  switch (decision) {
    case 'bearer':
      return undefined;
    case 'cnf_missing':
      throw new AssertionRejected('no_confirmation_key', 'proof of possession is required and the assertion has no cnf.jwk');
    case 'proof_missing':
      throw new DpopProofRejected('missing', 'proof of possession is required: send a DPoP proof signed with the cnf key of the assertion');
    case 'bind_to_cnf':
    case 'bind_to_proof_key': {
      // The thumbprint (a SHA-256 through WebCrypto) only when a proof is to be matched against it.
      const cnfJkt = decision === 'bind_to_cnf' ? await cnfThumbprint(claims) : undefined;
      const proof = await verifyDpopProof(cnfJkt === undefined ? presented : { ...presented, expectedJkt: cnfJkt }, dpop.verifier);
      return { jkt: proof.jkt, cnfProven: cnfJkt !== undefined };
    }
  }
}
