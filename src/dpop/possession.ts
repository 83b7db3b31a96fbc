import type { ProofOfPossession } from './policy.js';
import { resourceAccess, type ResourceAccess } from './policy.js';
import { verifyDpopProof, type DpopVerifierDeps, type ProofRequest } from './proof.js';

/** A token presented at a resource in a way its binding or the policy does not allow (RFC 9449 §7). */
export class PossessionRefused extends Error {
  override name = 'PossessionRefused';
  constructor(readonly access: Exclude<ResourceAccess, 'accept_bearer' | 'verify_proof'>) {
    super(access);
  }
}

/** What a resource knows about a presented token: its scheme, and the key it names, if any. */
export interface PresentedToken {
  scheme: 'Bearer' | 'DPoP';
  token: string;
  /** cnf.jkt of an access token (bound), the thumbprint of an asset token's cnf.jwk (bound only under `required`). */
  key: { jkt: string; bound: boolean } | undefined;
}

/**
 * RFC 9449 §7 at a resource: bound tokens only with the DPoP scheme and a proof from their key
 * carrying `ath` over the token. Returns the proven key's thumbprint, or undefined for plain Bearer
 * use. Throws PossessionRefused, or DpopProofRejected for the proof itself.
 */
export async function proveAtResource(presented: PresentedToken, policy: ProofOfPossession, proof: ProofRequest, verifier: DpopVerifierDeps): Promise<string | undefined> {
  const access = resourceAccess(presented.scheme, presented.key, policy);
  if (access === 'accept_bearer') return undefined;
  if (access !== 'verify_proof') throw new PossessionRefused(access);
  const request = { ...proof, accessToken: presented.token, expectedJkt: presented.key!.jkt };
  return (await verifyDpopProof(request, verifier)).jkt;
}
