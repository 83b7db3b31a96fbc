import type { AssetClaims } from '../assertion/claims-policy.js';
import { AssertionRejected } from '../assertion/rejections.js';
import { InvalidDpopProof, UseDpopNonce, type OAuthError } from '../oauth/errors.js';
import { DPOP_NONCE_HEADER } from './constants.js';
import { policyOf, type DpopContext } from './context.js';
import { exchangeBinding } from './policy.js';
import { DpopProofRejected, isPublicJwk, jwkThumbprint, verifyDpopProof, type ProofRequest } from './proof.js';

/** A refused proof at the token endpoint: RFC 9449 §5 400 JSON, no WWW-Authenticate. */
export function tokenEndpointProofError(rejection: DpopProofRejected, dpop: DpopContext): OAuthError {
  const debug = `${rejection.reason}: ${rejection.debug ?? ''}`;
  const nonces = dpop.verifier.nonces;
  if (rejection.reason === 'nonce_required' && nonces) {
    return new UseDpopNonce(rejection.hint, { debug, headers: { [DPOP_NONCE_HEADER]: nonces.current() } });
  }
  return new InvalidDpopProof(rejection.hint, { debug });
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

/**
 * Token endpoint (RFC 9449 §5, §6): decides whether the new session is bound and to which key.
 * Returns the cnf.jkt for the access token record, or undefined for a Bearer session. Throws
 * AssertionRejected when the asset token cannot satisfy the policy (the grant maps it), and
 * invalid_dpop_proof / use_dpop_nonce for proof failures.
 */
export async function bindExchange(claims: AssetClaims, presented: ProofRequest, dpop: DpopContext): Promise<string | undefined> {
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
      throw new InvalidDpopProof('proof of possession is required: send a DPoP proof signed with the cnf key of the assertion', { debug: 'missing' });
    case 'bind_to_cnf':
    case 'bind_to_proof_key':
      try {
        // The thumbprint (a SHA-256 through WebCrypto) only when a proof is to be matched against it.
        const cnfJkt = decision === 'bind_to_cnf' ? await cnfThumbprint(claims) : undefined;
        const proof = await verifyDpopProof(cnfJkt === undefined ? presented : { ...presented, expectedJkt: cnfJkt }, dpop.verifier);
        return proof.jkt;
      } catch (err) {
        if (err instanceof DpopProofRejected) throw tokenEndpointProofError(err, dpop);
        throw err;
      }
  }
}
