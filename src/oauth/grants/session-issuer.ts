import type { Clock } from '../../clock.js';
import { AssertionRejected } from '../../assertion/rejections.js';
import type { AssetClaims } from '../../assertion/claims-policy.js';
import type { DpopContext } from '../../dpop/context.js';
import { tokenEndpointProofError } from '../../dpop/exchange.js';
import { DpopProofRejected, type ProofRequest } from '../../dpop/proof.js';
import { redeemAssetToken, RedemptionRefused, type RedemptionDeps } from '../../redemption/redeem.js';
import { mintAccessToken } from '../../tokens/access-token.js';
import type { AccessTokenRecord, NewAccessToken } from '../../tokens/store.js';
import { TOKEN_TYPE_BEARER, TOKEN_TYPE_DPOP } from '../../dpop/constants.js';
import { InvalidDpopProof, type OAuthError } from '../errors.js';
import { sessionTerms, targetsOf, type SessionPolicy, type SessionRequest } from '../session-terms.js';
import type { RejectionToError, TokenResponse } from './grant.js';

export interface SessionIssuerDeps {
  redemption: RedemptionDeps;
  clock: Clock;
  /** Where sessions are valid, which scopes they may carry, how long they live. */
  policy: SessionPolicy;
  dpop: DpopContext;
}

/**
 * Redeems the asset token (redemption/redeem.ts: verify, bind the session to the device key when a
 * DPoP proof asks for it or the policy demands it, consume) and saves a fresh opaque session for its
 * device with the single-use mark. Each grant says how an asset token refusal reads (`rejectedAs`).
 * The session is valid only at the resources the request named (else the default set), carries only
 * scopes the policy allows for them and this device, and lives no longer than any of them allows:
 * all decided before the asset token is consumed, so a refusal (invalid_target, invalid_scope)
 * leaves it usable.
 */
export async function exchangeAssetToken(
  assertion: string,
  request: SessionRequest,
  deps: SessionIssuerDeps,
  rejectedAs: RejectionToError,
  proof: ProofRequest,
): Promise<TokenResponse> {
  const targets = targetsOf(request, deps.policy);
  let scope: string | undefined;
  let lifetimeMs = 0;
  let token = '';
  const session = (claims: AssetClaims, jkt: string | undefined): NewAccessToken => {
    const terms = sessionTerms(targets, request, claims, deps.policy);
    scope = terms.scope;
    const now = deps.clock.now();
    // expires_in never reaches past the assertion's exp nor any target resource's cap; at least one second.
    lifetimeMs = Math.max(1000, Math.min(terms.lifetimeSeconds * 1000, claims.exp * 1000 - now));
    const minted = mintAccessToken(claims);
    token = minted.token;
    const record: AccessTokenRecord = { sub: claims.subject, iss: claims.iss, jti: claims.jti, aud: terms.aud, iat: now, exp: now + lifetimeMs };
    if (claims.did !== undefined) record.did = claims.did;
    if (claims.aid !== undefined) record.aid = claims.aid;
    if (scope !== undefined) record.scope = scope;
    if (jkt !== undefined) record.cnf = { jkt };
    return { handle: minted.handle, record };
  };
  let jkt: string | undefined;
  try {
    ({ jkt } = await redeemAssetToken(assertion, { at: 'token_endpoint', proof, session }, deps.redemption));
  } catch (err) {
    if (err instanceof RedemptionRefused) throw tokenEndpointError(err, rejectedAs, deps.dpop);
    throw err;
  }
  const response: TokenResponse = { access_token: token, token_type: jkt === undefined ? TOKEN_TYPE_BEARER : TOKEN_TYPE_DPOP, expires_in: Math.floor(lifetimeMs / 1000) };
  if (scope !== undefined) response.scope = scope;
  return response;
}

/** The grant's error for an asset token refusal, RFC 9449 §5 400 JSON for a proof; both carry the refusal for the failure limits. */
function tokenEndpointError(err: RedemptionRefused, rejectedAs: RejectionToError, dpop: DpopContext): OAuthError {
  const refused = { refusal: err.refusal, device: err.device };
  if (err.rejection instanceof AssertionRejected) return rejectedAs(err.rejection, refused);
  if (err.rejection instanceof DpopProofRejected) return tokenEndpointProofError(err.rejection, dpop, refused);
  // PossessionRefused is a resource's answer (RFC 9449 §7); the token endpoint binds instead.
  return new InvalidDpopProof(err.rejection.message, { debug: err.rejection.access, ...refused });
}
