import type { Context, Next } from 'koa';
import { AssertionRejected, rejectionDetail } from '../assertion/rejections.js';
import { DPOP_NONCE_HEADER } from '../dpop/constants.js';
import { policyOf, presentedProof, resourceSchemes, type DpopContext } from '../dpop/context.js';
import { PossessionRefused, proveAtResource } from '../dpop/possession.js';
import { DpopProofRejected } from '../dpop/proof.js';
import { InvalidDpopProofAtResource, InvalidToken, UseDpopNonceAtResource, type OAuthError } from '../oauth/errors.js';
import type { FailureLimits } from '../ops/failure-limits.js';
import { consumeRedemption, RedemptionRefused, verifyRedemption, type Redemption, type RedemptionDeps, type VerifiedRedemption } from '../redemption/redeem.js';
import { accessTokenHandle } from '../tokens/access-token.js';
import type { AccessTokenStore } from '../tokens/store.js';
import { challengeFor, type AuthScheme, type Challenge } from './challenge.js';
import { readCredentials, type Credentials } from './credentials.js';

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
  /** Set when the call was proven with the device key (RFC 9449): the key's RFC 7638 thumbprint. */
  jkt?: string;
}

export interface GuardDeps {
  /** The resources' challenge (resourceChallenge), built once. */
  challenge: Challenge;
  /** The resource identifier these routes are (PUBLIC_URL): a session not meant for it is refused (RFC 8707). */
  resource: string;
  store: AccessTokenStore;
  dpop: DpopContext;
  /** Bearer-sequence asset tokens are redeemed as at the token endpoint. */
  redemption: RedemptionDeps;
  /** ... and charged to the same failure limits, by the same table. */
  failureLimits: FailureLimits;
}

/** The resources' challenge: DPoP advertised when a policy in force takes it (resourceSchemes). */
export function resourceChallenge(realm: string, dpop: DpopContext, resourceMetadata: string): Challenge {
  return challengeFor(realm, dpop.verifier.algorithms, () => resourceSchemes(dpop), resourceMetadata);
}

const challenged = <E extends OAuthError>(err: E, deps: GuardDeps, scheme: AuthScheme | 'any'): E => deps.challenge(err, scheme);

/** Reads the credentials (the one Authorization reader) into ctx.state.credentials. */
export function requireAuthorization(deps: GuardDeps) {
  // Not async: checks, then hands on next()'s promise (one promise less per request); a throw
  // becomes a rejection in koa-compose.
  return function requireAuthorizationMiddleware(ctx: Context, next: Next): Promise<void> {
    ctx.state.credentials = readCredentials(ctx.req, deps.challenge);
    return next();
  };
}

/**
 * Resolves the presented token into ctx.state.principal: an access token from the store, or (bearer
 * sequence) an asset token verified like at the token endpoint and consumed (single use). Either way
 * the proof of possession is checked before anything is consumed. With `consumeAfterBody`, an asset
 * token is only verified here (ctx.state.verifiedRedemption) and consumeAssetToken, after the body
 * is read, consumes it: nothing of a body is read for a token that is not genuine, and a refused
 * body leaves the token unspent.
 */
export function authenticate(deps: GuardDeps, options: { acceptAssetTokens: boolean; consumeAfterBody?: boolean }) {
  return async function authenticateMiddleware(ctx: Context, next: Next): Promise<void> {
    const credentials = ctx.state.credentials as Credentials;
    const token = credentials.token;
    const firstDot = token.indexOf('.');
    // Two dots or more: a JWS compact serialization, not an access token (no array per request).
    const looksLikeJwt = firstDot >= 0 && token.indexOf('.', firstDot + 1) >= 0;
    if (looksLikeJwt && options.acceptAssetTokens) {
      await deps.failureLimits.checkClient(ctx.ip);
      const site = { at: 'resource', scheme: credentials.scheme, proof: presentedProof(ctx, deps.dpop.publicUrl) } as const;
      const verified = await refusedAtResource(verifyRedemption(token, site, deps.redemption), credentials, deps, ctx);
      if (options.consumeAfterBody) ctx.state.verifiedRedemption = verified;
      else ctx.state.principal = await principalFromAssetToken(verified, credentials, deps, ctx);
    } else {
      ctx.state.principal = await principalFromAccessToken(credentials, deps, ctx);
    }
    await next();
  };
}

/** Middleware after the body (see authenticate's `consumeAfterBody`): consumes a verified asset token. */
export function consumeAssetToken(deps: GuardDeps) {
  // Not async: a session's request (no asset token waiting) passes straight on, no promise of its own.
  return function consumeAssetTokenMiddleware(ctx: Context, next: Next): Promise<void> {
    const verified = ctx.state.verifiedRedemption;
    if (!verified) return next();
    return principalFromAssetToken(verified, ctx.state.credentials!, deps, ctx).then((principal) => {
      ctx.state.principal = principal;
      return next();
    });
  };
}

/** RFC 9449 §7 refusals at a resource, as challenges in the DPoP scheme (§7.1). */
function possessionError(err: PossessionRefused | DpopProofRejected, deps: GuardDeps): OAuthError {
  if (err instanceof PossessionRefused) {
    switch (err.access) {
      case 'bound_token_as_bearer':
        return challenged(new InvalidToken('the token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof', { debug: 'bearer downgrade' }), deps, 'DPoP');
      case 'proof_required':
        return challenged(new InvalidToken('proof of possession is required: send the token as Authorization: DPoP with a DPoP proof from the device key', { debug: 'proof required' }), deps, 'DPoP');
      case 'not_bound':
        return challenged(new InvalidToken('the token is not bound to a key: the DPoP scheme cannot be used with it', { debug: 'not bound' }), deps, 'DPoP');
    }
  }
  const debug = rejectionDetail(err);
  const nonces = deps.dpop.verifier.nonces;
  if (err.reason === 'nonce_required' && nonces) {
    return challenged(new UseDpopNonceAtResource(err.hint, { debug, headers: { [DPOP_NONCE_HEADER]: nonces.current() } }), deps, 'DPoP');
  }
  return challenged(new InvalidDpopProofAtResource(err.hint, { debug }), deps, 'DPoP');
}

async function principalFromAccessToken(credentials: Credentials, deps: GuardDeps, ctx: Context): Promise<Principal> {
  const handle = accessTokenHandle(credentials.token);
  const record = handle ? await deps.store.findAccessToken(handle) : null;
  if (!record) throw challenged(new InvalidToken('access token is invalid, expired or revoked'), deps, credentials.scheme);
  // RFC 9700 §2.3: a session issued for another resource server is no credential here (before any
  // DPoP proof is looked at, so its jti is not spent on a refusal).
  if (!record.aud.includes(deps.resource)) {
    throw challenged(new InvalidToken('access token is not meant for this resource', { debug: 'audience' }), deps, credentials.scheme);
  }
  const key = record.cnf ? { jkt: record.cnf.jkt, bound: true } : undefined;
  let jkt: string | undefined;
  try {
    jkt = await proveAtResource({ ...credentials, key }, policyOf(deps.dpop, record.iss), presentedProof(ctx, deps.dpop.publicUrl), deps.dpop.verifier);
  } catch (err) {
    if (err instanceof PossessionRefused || err instanceof DpopProofRejected) throw possessionError(err, deps);
    throw err;
  }
  const principal: Principal = { via: 'access_token', sub: record.sub, iss: record.iss, exp: Math.floor(record.exp / 1000) };
  if (record.did !== undefined) principal.did = record.did;
  if (record.aid !== undefined) principal.aid = record.aid;
  if (record.scope !== undefined) principal.scope = record.scope;
  if (jkt !== undefined) principal.jkt = jkt;
  return principal;
}

/**
 * The bearer sequence: the asset token is redeemed like at the token endpoint (redemption/redeem.ts),
 * without a session; its refusals are charged to the failure limits by the same table.
 */
async function refusedAtResource<T>(step: Promise<T>, credentials: Credentials, deps: GuardDeps, ctx: Context): Promise<T> {
  try {
    return await step;
  } catch (err) {
    if (!(err instanceof RedemptionRefused)) throw err;
    await deps.failureLimits.charge(err.refusal, { client: ctx.ip, device: err.device });
    const cause = err.rejection;
    if (cause instanceof AssertionRejected) {
      throw challenged(new InvalidToken(`asset token rejected: ${cause.hint}`, { debug: rejectionDetail(cause) }), deps, credentials.scheme);
    }
    throw possessionError(cause, deps);
  }
}

async function principalFromAssetToken(verified: VerifiedRedemption, credentials: Credentials, deps: GuardDeps, ctx: Context): Promise<Principal> {
  const redemption: Redemption = await refusedAtResource(consumeRedemption(verified, deps.redemption), credentials, deps, ctx);
  const { claims, use, jkt } = redemption;
  const principal: Principal = { via: 'asset_token', sub: claims.subject, iss: claims.iss, exp: claims.exp };
  if (claims.did !== undefined) principal.did = claims.did;
  if (claims.aid !== undefined) principal.aid = claims.aid;
  if (jkt !== undefined) principal.jkt = jkt;
  ctx.state.assertionUse = use;
  return principal;
}
