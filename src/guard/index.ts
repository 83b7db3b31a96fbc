import type { RedisConnection } from '../tokens/redis-client.js';
import type { Context, Middleware, Next } from 'koa';
import type { Clock } from '../clock.js';
import { LRUCache } from 'lru-cache';
import { systemClock } from '../clock.js';
import { DEFAULT_DPOP_ALGORITHMS, DPOP_HEADER } from '../dpop/constants.js';
import { DpopProofRejected, verifyDpopProof, type DpopVerifierDeps } from '../dpop/proof.js';
import { InsufficientScope, InvalidDpopProofAtResource, InvalidRequest, InvalidToken, MissingCredentials, TemporarilyUnavailable, type OAuthError } from '../oauth/errors.js';
import { toOAuthError } from '../oauth/render-error.js';
import { bearerChallenge, dpopChallenge } from '../resource/challenge.js';
import { RedisTokenStore } from '../tokens/redis-store.js';
import type { DpopProofUse } from '../tokens/store.js';

type DpopProofOutcome = 'accepted' | 'replayed';
import { GuardUnavailableError, type DeviceClaims, type TokenResolver } from './claims.js';
import { introspectionResolver, type IntrospectionClientOptions } from './introspection-resolver.js';
import { redisResolver } from './redis-resolver.js';

export type { DeviceClaims, TokenResolver } from './claims.js';
export { GuardUnavailableError } from './claims.js';
export type { IntrospectionClientOptions } from './introspection-resolver.js';

interface CommonGuardOptions {
  /** RFC 6750 realm of the challenges. Default "assetgate". */
  realm?: string;
  /** Every one of these scopes must have been granted, else 403 insufficient_scope (RFC 6750 §3.1). */
  requiredScopes?: string[];
  /** Told why a request got a 503 (Redis or introspection away, guard misconfigured). */
  onUnavailable?: (err: Error) => void;
  /**
   * DPoP (RFC 9449) for key-bound tokens. Without it, bound tokens are refused (fail closed): the
   * proof's `htu` must be checked against this service's own external URL, never the Host header.
   */
  dpop?: {
    /** This service's external base URL, e.g. https://api.devicebackend.com */
    publicUrl: string;
    /** Default ES256, RS256, PS256, EdDSA. */
    algorithms?: string[];
    /** How old a proof's iat may be, on top of skewSeconds. Default 60. */
    iatWindowSeconds?: number;
    skewSeconds?: number;
  };
}

/** Reads assetgate's Redis directly: no staleness after a revocation. */
export interface RedisGuardOptions extends CommonGuardOptions {
  mode: 'redis';
  redis: RedisConnection;
  /** assetgate's REDIS_KEY_PREFIX. Default "ag:". */
  keyPrefix?: string;
  clock?: Clock;
}

/** Calls assetgate's introspection endpoint, with a short bounded cache: staleness up to cacheTtlMs. */
export interface IntrospectionGuardOptions extends CommonGuardOptions, IntrospectionClientOptions {
  mode: 'introspection';
}

export type AssetgateGuardOptions = RedisGuardOptions | IntrospectionGuardOptions;

type Scheme = 'Bearer' | 'DPoP';
const SCHEMES: Record<string, Scheme> = { bearer: 'Bearer', dpop: 'DPoP' };
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/** One challenge per scheme this guard accepts (DPoP only when configured), the error on the scheme used. */
function challenged<E extends OAuthError>(err: E, realm: string, scheme: Scheme | 'any', algorithms: readonly string[] | undefined): E {
  const error = err.code ? { code: err.code, description: err.description } : undefined;
  const challenges = [];
  if (scheme !== 'DPoP') challenges.push(bearerChallenge(realm, scheme === 'Bearer' ? error : undefined));
  if (scheme === 'DPoP' || (scheme === 'any' && algorithms)) {
    challenges.push(dpopChallenge(realm, algorithms ?? DEFAULT_DPOP_ALGORITHMS, scheme === 'DPoP' ? error : undefined));
  }
  err.headers['WWW-Authenticate'] = challenges.join(', ');
  return err;
}

/** RFC 6750 §2.1 / RFC 9449 §7.1: `Bearer <token>` or `DPoP <token>`. */
function parseAuthorization(header: string, fail: (err: OAuthError, scheme: Scheme | 'any') => OAuthError): { scheme: Scheme; token: string } {
  if (header === '') throw fail(new MissingCredentials('authentication required'), 'any');
  const match = /^([A-Za-z]+) +(\S+)$/.exec(header);
  if (!match || header.length > 16 * 1024) throw fail(new InvalidRequest('Authorization header is malformed'), 'any');
  const scheme = SCHEMES[match[1]!.toLowerCase()];
  if (!scheme) throw fail(new MissingCredentials('Bearer or DPoP authentication required'), 'any');
  if (!TOKEN68.test(match[2]!)) throw fail(new InvalidRequest('token is malformed'), scheme);
  return { scheme, token: match[2]! };
}

/** A proof's jti is single use per key: in assetgate's Redis (redis mode) or per process (introspection mode). */
function proofReplayStore(options: AssetgateGuardOptions): { consumeDpopProof(use: DpopProofUse): Promise<DpopProofOutcome> } {
  if (options.mode === 'redis') {
    return new RedisTokenStore(options.redis, { keyPrefix: options.keyPrefix ?? 'ag:', revocationMarkTtlMs: 1, clock: options.clock ?? systemClock });
  }
  const seen = new LRUCache<string, true>({ max: 100_000, ttlAutopurge: false });
  const clock = systemClock;
  return {
    async consumeDpopProof(use: DpopProofUse): Promise<DpopProofOutcome> {
      const key = `${use.jkt}\n${use.jti}`;
      if (seen.has(key)) return 'replayed';
      seen.set(key, true, { ttl: Math.max(1000, use.forgetAtMs - clock.now()) });
      return 'accepted';
    },
  };
}

function hasScopes(granted: string | undefined, required: readonly string[]): boolean {
  const have = new Set((granted ?? '').split(' '));
  return required.every((s) => have.has(s));
}

/**
 * Koa middleware for other services: accepts `Authorization: Bearer <assetgate access token>`, puts
 * the device's claims on ctx.state.device, and answers RFC 6750 errors itself (401 with a Bearer
 * challenge, 403 insufficient_scope, 503 with Retry-After when the token's state cannot be learnt).
 */
export function assetgateGuard(options: AssetgateGuardOptions): Middleware {
  const realm = options.realm ?? 'assetgate';
  const required = options.requiredScopes ?? [];
  const resolver: TokenResolver =
    options.mode === 'redis' ? redisResolver(options.redis, options.keyPrefix ?? 'ag:', options.clock) : introspectionResolver(options);
  const algorithms = options.dpop?.algorithms ?? DEFAULT_DPOP_ALGORITHMS;
  const dpopDeps: DpopVerifierDeps | undefined = options.dpop && {
    algorithms,
    iatWindowSeconds: options.dpop.iatWindowSeconds ?? 60,
    skewSeconds: options.dpop.skewSeconds ?? 30,
    clock: (options.mode === 'redis' ? options.clock : undefined) ?? systemClock,
    store: proofReplayStore(options),
    nonces: undefined,
  };
  const publicUrl = options.dpop?.publicUrl.replace(/\/+$/, '');
  const fail = (err: OAuthError, scheme: Scheme | 'any') => challenged(err, realm, scheme, options.dpop ? algorithms : undefined);

  async function deviceOf(ctx: Context): Promise<DeviceClaims> {
    const { scheme, token } = parseAuthorization(ctx.get('authorization'), fail);
    const claims = await resolver.resolve(token);
    if (!claims) throw fail(new InvalidToken('access token is invalid, expired or revoked'), scheme);
    if (claims.cnf) {
      // RFC 9449 §7.2: a bound token is only accepted with a proof from its key; never as Bearer.
      if (scheme !== 'DPoP') throw fail(new InvalidToken('this token is bound to a key: use the DPoP scheme with a proof'), 'DPoP');
      if (!dpopDeps || !publicUrl) throw fail(new InvalidToken('this service does not accept key-bound tokens'), 'DPoP');
      const header = ctx.req.headers[DPOP_HEADER];
      const proofs = header === undefined ? [] : Array.isArray(header) ? header : header.split(',').map((p) => p.trim());
      try {
        await verifyDpopProof({ proofs, method: ctx.method, url: `${publicUrl}${ctx.path}`, accessToken: token, expectedJkt: claims.cnf.jkt }, dpopDeps);
      } catch (err) {
        if (err instanceof DpopProofRejected) throw fail(new InvalidDpopProofAtResource(err.hint, { debug: err.reason }), 'DPoP');
        throw err;
      }
    } else if (scheme === 'DPoP') {
      throw fail(new InvalidToken('this token is not bound to a key: use the Bearer scheme'), 'Bearer');
    }
    if (!hasScopes(claims.scope, required)) throw fail(new InsufficientScope(`requires scope "${required.join(' ')}"`), scheme);
    return claims;
  }

  return async function assetgateGuardMiddleware(ctx: Context, next: Next): Promise<void> {
    let device: DeviceClaims;
    try {
      device = await deviceOf(ctx);
    } catch (thrown) {
      const err = thrown instanceof GuardUnavailableError ? new TemporarilyUnavailable('token state cannot be checked, retry later') : toOAuthError(thrown);
      if (err.status >= 500) options.onUnavailable?.(thrown as Error);
      ctx.status = err.status;
      ctx.set('Cache-Control', 'no-store');
      for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
      ctx.body = err.code ? err.toJSON() : '';
      return;
    }
    ctx.state.device = device;
    await next();
  };
}
