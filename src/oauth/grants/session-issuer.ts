import type { Clock } from '../../clock.js';
import { verifyAssetToken, type VerifyContext } from '../../assertion/verify.js';
import { AssertionRejected } from '../../assertion/rejections.js';
import type { AssetClaims } from '../../assertion/claims-policy.js';
import type { FailureLimits } from '../../ops/failure-limits.js';
import { mintAccessToken } from '../../tokens/access-token.js';
import type { AccessTokenRecord, AssertionUse, TokenStore } from '../../tokens/store.js';
import { grantScope } from '../scope-policy.js';
import type { RejectionToError, TokenResponse } from './grant.js';

export interface SessionIssuerDeps {
  verify: VerifyContext;
  store: TokenStore;
  clock: Clock;
  accessTokenTtlSeconds: number;
  supportedScopes: string[] | undefined;
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

/** Verifies the asset token, consumes it, and stores a fresh opaque session for its device. */
export async function exchangeAssetToken(
  assertion: string,
  requestedScope: string | undefined,
  deps: SessionIssuerDeps,
  rejected: RejectionToError,
): Promise<TokenResponse> {
  const scope = grantScope(requestedScope, deps.supportedScopes);
  let claims: AssetClaims;
  try {
    claims = await verifyAssetToken(assertion, deps.verify);
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

  const outcome = await deps.store.consumeAssertion(assertionUseOf(claims, deps.verify.skewSeconds), { handle, record });
  if (outcome !== 'accepted') {
    const rejection =
      outcome === 'replayed'
        ? new AssertionRejected('replayed', 'assertion has already been used')
        : new AssertionRejected('device_blocked', 'assertion was issued before the device was revoked');
    rejection.subject = claims.subject;
    throw rejected(rejection);
  }

  const response: TokenResponse = { access_token: token, token_type: 'Bearer', expires_in: Math.floor(lifetimeMs / 1000) };
  if (scope !== undefined) response.scope = scope;
  return response;
}
