import type { Clock } from '../../clock.js';
import { verifyAssetToken, type VerifyContext } from '../../assertion/verify.js';
import { AssertionRejected } from '../../assertion/rejections.js';
import type { AssetClaims } from '../../assertion/claims-policy.js';
import type { DpopContext } from '../../dpop/context.js';
import { bindExchange } from '../../dpop/exchange.js';
import type { ProofRequest } from '../../dpop/proof.js';
import type { AssertionObserver } from '../../assertion/observer.js';
import type { FailureLimits } from '../../ops/failure-limits.js';
import { mintAccessToken } from '../../tokens/access-token.js';
import type { AccessTokenRecord, AssertionUse, TokenStore } from '../../tokens/store.js';
import { TOKEN_TYPE_BEARER, TOKEN_TYPE_DPOP } from '../../dpop/constants.js';
import { grantScope } from '../scope-policy.js';
import type { RejectionToError, TokenResponse } from './grant.js';

export interface SessionIssuerDeps {
  verify: VerifyContext;
  store: TokenStore;
  clock: Clock;
  accessTokenTtlSeconds: number;
  supportedScopes: string[] | undefined;
  dpop: DpopContext;
  /** Metrics and the development activity page. */
  observer?: AssertionObserver;
  /** Per-device failure limit, checked once the signature has named the device. */
  failureLimits?: FailureLimits;
}

/** The single-use mark of an asset token lives until its exp plus skew (RFC 7523 §3 item 7). */
export function assertionUseOf(claims: AssetClaims, skewSeconds: number): AssertionUse {
  const issuedAt = claims.iat ?? claims.nbf;
  return {
    iss: claims.iss,
    jti: claims.jti,
    subject: claims.subject,
    forgetAtMs: (claims.exp + skewSeconds) * 1000,
    issuedAtMs: issuedAt === undefined ? undefined : issuedAt * 1000,
  };
}

/**
 * Verifies the asset token, binds the session to the device key when a DPoP proof asks for it or the
 * policy demands it (before anything is consumed, so a use_dpop_nonce retry can reuse the asset
 * token), consumes the asset token, and stores a fresh opaque session for its device.
 */
export async function exchangeAssetToken(
  assertion: string,
  requestedScope: string | undefined,
  deps: SessionIssuerDeps,
  rejectedAs: RejectionToError,
  proof: ProofRequest,
): Promise<TokenResponse> {
  const rejected: RejectionToError = (r) => {
    deps.observer?.rejected(r.reason);
    return rejectedAs(r);
  };
  const scope = grantScope(requestedScope, deps.supportedScopes);
  let claims: AssetClaims;
  let jkt: string | undefined;
  try {
    claims = await verifyAssetToken(assertion, deps.verify);
    jkt = await bindExchange(claims, proof, deps.dpop);
  } catch (err) {
    if (err instanceof AssertionRejected) throw rejected(err);
    throw err;
  }
  await deps.failureLimits?.checkDevice(claims.subject);
  const now = deps.clock.now();
  // expires_in never reaches past the assertion's exp; at least one second.
  const lifetimeMs = Math.max(1000, Math.min(deps.accessTokenTtlSeconds * 1000, claims.exp * 1000 - now));
  const { token, handle } = mintAccessToken(claims.subject);
  const record: AccessTokenRecord = { sub: claims.subject, iss: claims.iss, jti: claims.jti, iat: now, exp: now + lifetimeMs };
  if (claims.did !== undefined) record.did = claims.did;
  if (claims.aid !== undefined) record.aid = claims.aid;
  if (scope !== undefined) record.scope = scope;
  if (jkt !== undefined) record.cnf = { jkt };

  const outcome = await deps.store.consumeAssertion(assertionUseOf(claims, deps.verify.skewSeconds), { handle, record });
  if (outcome !== 'accepted') {
    const rejection =
      outcome === 'replayed'
        ? new AssertionRejected('replayed', 'assertion has already been used')
        : new AssertionRejected('device_blocked', 'assertion was issued before the device was revoked');
    rejection.subject = claims.subject;
    throw rejected(rejection);
  }

  deps.observer?.accepted(claims);
  const response: TokenResponse = { access_token: token, token_type: jkt === undefined ? TOKEN_TYPE_BEARER : TOKEN_TYPE_DPOP, expires_in: Math.floor(lifetimeMs / 1000) };
  if (scope !== undefined) response.scope = scope;
  return response;
}
