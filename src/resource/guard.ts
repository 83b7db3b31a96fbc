import type { Context, Next } from 'koa';
import { AssertionRejected } from '../assertion/rejections.js';
import { verifyAssetToken, type VerifyContext } from '../assertion/verify.js';
import type { Clock } from '../clock.js';
import type { FailureLimits } from '../ops/failure-limits.js';
import { InvalidRequest, InvalidToken, MissingCredentials, type OAuthError } from '../oauth/errors.js';
import { assertionUseOf } from '../oauth/grants/session-issuer.js';
import { accessTokenHandle } from '../tokens/access-token.js';
import type { AssertionUse, TokenStore } from '../tokens/store.js';
import { bearerChallenge } from './challenge.js';

/** Who is calling, as the resource handlers see it. */
export interface Principal {
  via: 'access_token' | 'asset_token';
  sub: string;
  did?: string;
  aid?: string;
  iss: string;
  scope?: string;
  /** Seconds since epoch. */
  exp: number;
}

export interface GuardDeps {
  realm: string;
  store: TokenStore;
  verify: VerifyContext;
  clock: Clock;
  /** Bearer-sequence asset tokens are exchanges too: same failure limits as the token endpoint. */
  failureLimits?: FailureLimits;
}

const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
const MAX_AUTHORIZATION_LENGTH = 16 * 1024;

function withChallenge<E extends OAuthError>(err: E, realm: string): E {
  err.headers['WWW-Authenticate'] = bearerChallenge(realm, err.code ? { code: err.code, description: err.description } : undefined);
  return err;
}

/** Parses `Authorization: Bearer <token>` (RFC 6750 §2.1) into ctx.state.bearer. */
export function requireBearer(realm: string) {
  return async function requireBearerMiddleware(ctx: Context, next: Next): Promise<void> {
    const header = ctx.get('authorization');
    if (header === '') throw withChallenge(new MissingCredentials('authentication required'), realm);
    // Node keeps only the first of repeated Authorization headers; two credentials are ambiguous
    // (RFC 6750 §3.1 invalid_request), so refuse instead of guessing.
    if ((ctx.req.headersDistinct.authorization?.length ?? 0) > 1) {
      throw withChallenge(new InvalidRequest('more than one Authorization header'), realm);
    }
    const match = /^([A-Za-z]+) +(\S+)$/.exec(header);
    if (!match || header.length > MAX_AUTHORIZATION_LENGTH) {
      throw withChallenge(new InvalidRequest('Authorization header is malformed'), realm);
    }
    if (match[1]!.toLowerCase() !== 'bearer') {
      throw withChallenge(new MissingCredentials('Bearer authentication required'), realm);
    }
    if (!TOKEN68.test(match[2]!)) throw withChallenge(new InvalidRequest('bearer token is malformed'), realm);
    ctx.state.bearer = match[2];
    await next();
  };
}

/**
 * Resolves the bearer token into ctx.state.principal: an access token from the store, or (bearer
 * sequence) an asset token verified like at the token endpoint and consumed (single use).
 */
export function authenticate(deps: GuardDeps, options: { acceptAssetTokens: boolean }) {
  return async function authenticateMiddleware(ctx: Context, next: Next): Promise<void> {
    const token = ctx.state.bearer as string;
    const looksLikeJwt = token.split('.').length >= 3;
    if (looksLikeJwt && options.acceptAssetTokens) {
      ctx.state.principal = await principalFromAssetToken(token, deps, ctx);
    } else {
      ctx.state.principal = await principalFromAccessToken(token, deps);
    }
    await next();
  };
}

async function principalFromAccessToken(token: string, deps: GuardDeps): Promise<Principal> {
  const handle = accessTokenHandle(token);
  const record = handle ? await deps.store.findAccessToken(handle) : null;
  if (!record) throw withChallenge(new InvalidToken('access token is invalid, expired or revoked'), deps.realm);
  const principal: Principal = { via: 'access_token', sub: record.sub, iss: record.iss, exp: Math.floor(record.exp / 1000) };
  if (record.did !== undefined) principal.did = record.did;
  if (record.aid !== undefined) principal.aid = record.aid;
  if (record.scope !== undefined) principal.scope = record.scope;
  return principal;
}

async function principalFromAssetToken(token: string, deps: GuardDeps, ctx: Context): Promise<Principal> {
  let use: AssertionUse;
  let principal: Principal;
  await deps.failureLimits?.checkClient(ctx.ip);
  try {
    const claims = await verifyAssetToken(token, deps.verify);
    await deps.failureLimits?.checkDevice(claims.subject);
    use = assertionUseOf(claims, deps.verify.skewSeconds);
    principal = { via: 'asset_token', sub: claims.subject, iss: claims.iss, exp: claims.exp };
    if (claims.did !== undefined) principal.did = claims.did;
    if (claims.aid !== undefined) principal.aid = claims.aid;
  } catch (err) {
    if (err instanceof AssertionRejected) {
      await deps.failureLimits?.recordFailure(ctx.ip, err.subject);
      throw withChallenge(new InvalidToken(`asset token rejected: ${err.hint}`, { debug: `${err.reason}: ${err.debug ?? ''}` }), deps.realm);
    }
    throw err;
  }
  const outcome = await deps.store.consumeAssertion(use);
  if (outcome !== 'accepted') {
    await deps.failureLimits?.recordFailure(ctx.ip, use.subject);
    const hint = outcome === 'replayed' ? 'asset token has already been used' : 'asset token was issued before the device was revoked';
    throw withChallenge(new InvalidToken(hint, { debug: outcome }), deps.realm);
  }
  ctx.state.assertionUse = use;
  return principal;
}
