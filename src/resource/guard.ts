import type { Context, Next } from 'koa';
import type { AssetClaims } from '../assertion/claims-policy.js';
import type { AssertionObserver } from '../assertion/observer.js';
import { AssertionRejected } from '../assertion/rejections.js';
import { verifyAssetToken, type VerifyContext } from '../assertion/verify.js';
import type { Clock } from '../clock.js';
import { DPOP_NONCE_HEADER } from '../dpop/constants.js';
import { policyOf, presentedProof, resourceSchemes, type DpopContext } from '../dpop/context.js';
import { cnfThumbprint } from '../dpop/exchange.js';
import { resourceAccess } from '../dpop/policy.js';
import { DpopProofRejected, verifyDpopProof } from '../dpop/proof.js';
import { InvalidDpopProofAtResource, InvalidToken, UseDpopNonceAtResource, type OAuthError } from '../oauth/errors.js';
import type { FailureLimits } from '../ops/failure-limits.js';
import { assertionUseOf } from '../oauth/grants/session-issuer.js';
import { accessTokenHandle } from '../tokens/access-token.js';
import type { AssertionUse, TokenStore } from '../tokens/store.js';
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
  store: TokenStore;
  verify: VerifyContext;
  clock: Clock;
  dpop: DpopContext;
  /** Metrics and the development activity page. */
  observer?: AssertionObserver;
  /** Bearer-sequence asset tokens are exchanges too: same failure limits as the token endpoint. */
  failureLimits?: FailureLimits;
}

/** The resources' challenge: DPoP advertised when a policy in force takes it (resourceSchemes). */
export function resourceChallenge(realm: string, dpop: DpopContext): Challenge {
  return challengeFor(realm, dpop.verifier.algorithms, () => resourceSchemes(dpop));
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
 * the proof of possession is checked before anything is consumed.
 */
export function authenticate(deps: GuardDeps, options: { acceptAssetTokens: boolean }) {
  return async function authenticateMiddleware(ctx: Context, next: Next): Promise<void> {
    const credentials = ctx.state.credentials as Credentials;
    const token = credentials.token;
    const firstDot = token.indexOf('.');
    // Two dots or more: a JWS compact serialization, not an access token (no array per request).
    const looksLikeJwt = firstDot >= 0 && token.indexOf('.', firstDot + 1) >= 0;
    if (looksLikeJwt && options.acceptAssetTokens) {
      ctx.state.principal = await principalFromAssetToken(credentials, deps, ctx);
    } else {
      ctx.state.principal = await principalFromAccessToken(credentials, deps, ctx);
    }
    await next();
  };
}

interface Presented extends Credentials {
  iss: string;
  /** The key the token names: cnf.jkt of an access token (bound), cnf.jwk of an asset token (bound only under `required`). */
  key: { jkt: string; bound: boolean } | undefined;
}

/** RFC 9449 §7: bound tokens only with the DPoP scheme and a proof from their key, carrying ath. */
async function checkPossession(p: Presented, deps: GuardDeps, ctx: Context): Promise<string | undefined> {
  switch (resourceAccess(p.scheme, p.key, policyOf(deps.dpop, p.iss))) {
    case 'accept_bearer':
      return undefined;
    case 'bound_token_as_bearer':
      throw challenged(new InvalidToken('the token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof', { debug: 'bearer downgrade' }), deps, 'DPoP');
    case 'proof_required':
      throw challenged(new InvalidToken('proof of possession is required: send the token as Authorization: DPoP with a DPoP proof from the device key', { debug: 'proof required' }), deps, 'DPoP');
    case 'not_bound':
      throw challenged(new InvalidToken('the token is not bound to a key: the DPoP scheme cannot be used with it', { debug: 'not bound' }), deps, 'DPoP');
    case 'verify_proof':
      try {
        const request = { ...presentedProof(ctx, deps.dpop.publicUrl), accessToken: p.token, expectedJkt: p.key!.jkt };
        return (await verifyDpopProof(request, deps.dpop.verifier)).jkt;
      } catch (err) {
        if (!(err instanceof DpopProofRejected)) throw err;
        const debug = `${err.reason}: ${err.debug ?? ''}`;
        const nonces = deps.dpop.verifier.nonces;
        if (err.reason === 'nonce_required' && nonces) {
          throw challenged(new UseDpopNonceAtResource(err.hint, { debug, headers: { [DPOP_NONCE_HEADER]: nonces.current() } }), deps, 'DPoP');
        }
        throw challenged(new InvalidDpopProofAtResource(err.hint, { debug }), deps, 'DPoP');
      }
  }
}

async function principalFromAccessToken(credentials: Credentials, deps: GuardDeps, ctx: Context): Promise<Principal> {
  const handle = accessTokenHandle(credentials.token);
  const record = handle ? await deps.store.findAccessToken(handle) : null;
  if (!record) throw challenged(new InvalidToken('access token is invalid, expired or revoked'), deps, credentials.scheme);
  const key = record.cnf ? { jkt: record.cnf.jkt, bound: true } : undefined;
  const jkt = await checkPossession({ scheme: credentials.scheme, token: credentials.token, iss: record.iss, key }, deps, ctx);
  const principal: Principal = { via: 'access_token', sub: record.sub, iss: record.iss, exp: Math.floor(record.exp / 1000) };
  if (record.did !== undefined) principal.did = record.did;
  if (record.aid !== undefined) principal.aid = record.aid;
  if (record.scope !== undefined) principal.scope = record.scope;
  if (jkt !== undefined) principal.jkt = jkt;
  return principal;
}

async function principalFromAssetToken(credentials: Credentials, deps: GuardDeps, ctx: Context): Promise<Principal> {
  let use: AssertionUse;
  let principal: Principal;
  await deps.failureLimits?.checkClient(ctx.ip);
  let cnfJkt: string | undefined;
  let claims: AssetClaims;
  try {
    claims = await verifyAssetToken(credentials.token, deps.verify);
    // The device key's thumbprint matters only when a DPoP proof is to be matched against it.
    cnfJkt = credentials.scheme === 'DPoP' ? await cnfThumbprint(claims) : undefined;
    await deps.failureLimits?.checkDevice(claims.subject);
    use = assertionUseOf(claims, deps.verify.skewSeconds);
    principal = { via: 'asset_token', sub: claims.subject, iss: claims.iss, exp: claims.exp };
    if (claims.did !== undefined) principal.did = claims.did;
    if (claims.aid !== undefined) principal.aid = claims.aid;
  } catch (err) {
    if (err instanceof AssertionRejected) {
      deps.observer?.rejected(err.reason);
      await deps.failureLimits?.recordFailure(ctx.ip, err.subject);
      throw challenged(new InvalidToken(`asset token rejected: ${err.hint}`, { debug: `${err.reason}: ${err.debug ?? ''}` }), deps, credentials.scheme);
    }
    throw err;
  }
  const key = cnfJkt === undefined ? undefined : { jkt: cnfJkt, bound: false };
  const jkt = await checkPossession({ ...credentials, iss: principal.iss, key }, deps, ctx);
  if (jkt !== undefined) principal.jkt = jkt;
  const outcome = await deps.store.consumeAssertion(use);
  if (outcome !== 'accepted') {
    deps.observer?.rejected(outcome);
    await deps.failureLimits?.recordFailure(ctx.ip, use.subject);
    const hint = outcome === 'replayed' ? 'asset token has already been used' : 'asset token was issued before the device was revoked';
    throw challenged(new InvalidToken(hint, { debug: outcome }), deps, credentials.scheme);
  }
  ctx.state.assertionUse = use;
  deps.observer?.accepted(claims);
  return principal;
}
