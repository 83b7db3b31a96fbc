import type { Context, Middleware, Next } from 'koa';
import { LRUCache } from 'lru-cache';
import { DEFAULT_CLOCK_SKEW_SECONDS, systemClock, type Clock } from '../clock.js';
import { DEFAULT_DPOP_ALGORITHMS, DEFAULT_DPOP_IAT_WINDOW_SECONDS, DPOP_HEADER } from '../dpop/constants.js';
import { DpopProofRejected, verifyDpopProof, type DpopVerifierDeps } from '../dpop/proof.js';
import type { DpopProofReplay } from '../tokens/store.js';
import { DEFAULT_REALM } from '../oauth/constants.js';
import { respondWithError } from '../oauth/error-response.js';
import { InsufficientScope, InvalidDpopProofAtResource, InvalidToken, OAuthError, ServerError, TemporarilyUnavailable } from '../oauth/errors.js';
import { challengeFor } from '../resource/challenge.js';
import { readCredentials } from '../resource/credentials.js';
import { DEFAULT_KEY_PREFIX } from '../tokens/keys.js';
import type { DpopProofUse } from '../tokens/store.js';
import { GuardUnavailableError, type DeviceClaims, type TokenResolver } from './claims.js';
import { introspectionResolver, type IntrospectionClientOptions } from './introspection-resolver.js';
import { redisTokenReader, type GuardRedis } from './redis-reader.js';
import { redisResolver } from './redis-resolver.js';

export type { DeviceClaims, TokenResolver } from './claims.js';
export { GuardUnavailableError } from './claims.js';
export type { IntrospectionClientOptions } from './introspection-resolver.js';
export type { GuardRedis } from './redis-reader.js';
export { resourceMetadataUrl, serveProtectedResourceMetadata, type ProtectedResourceSettings } from '../oauth/protected-resource.js';

interface CommonGuardOptions {
  /**
   * The resource identifier of this service, as configured at assetgate (RESOURCE_SERVERS, RFC 8707):
   * a session issued for any other resource is refused with invalid_token (RFC 9700 §2.3).
   */
  resource: string;
  /**
   * The URL of this service's RFC 9728 metadata, named in every challenge (`resource_metadata`,
   * RFC 9728 §5.1) so a client can discover the authorization server. Serve the document with
   * serveProtectedResourceMetadata; its URL is resourceMetadataUrl(resource). Unset: not named.
   */
  resourceMetadata?: string;
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
  /** A connection to assetgate's Redis (an ioredis Redis or Cluster). */
  redis: GuardRedis;
  /** assetgate's REDIS_KEY_PREFIX. Default "ag:". */
  keyPrefix?: string;
  /**
   * How long the list of issuers assetgate trusts is reused before it is read again: the longest a
   * session of an issuer dropped from TRUSTED_ISSUERS is still accepted here. Default 5000 ms.
   */
  issuerRefreshMs?: number;
  clock?: Clock;
}

/** Calls assetgate's introspection endpoint, with a short bounded cache: staleness up to cacheTtlMs. */
export interface IntrospectionGuardOptions extends CommonGuardOptions, IntrospectionClientOptions {
  mode: 'introspection';
}

export type AssetgateGuardOptions = RedisGuardOptions | IntrospectionGuardOptions;

/** Introspection mode has no shared store: a proof's jti is single use per process. */
function processProofReplay(clock: Clock): DpopProofReplay {
  const seen = new LRUCache<string, true>({ max: 100_000, ttlAutopurge: false });
  return {
    consumeDpopProof(use: DpopProofUse): Promise<'accepted' | 'replayed'> {
      const key = `${use.jkt}\n${use.jti}`;
      if (seen.has(key)) return Promise.resolve('replayed');
      seen.set(key, true, { ttl: Math.max(1000, use.forgetAtMs - clock.now()) });
      return Promise.resolve('accepted');
    },
  };
}

function hasScopes(granted: string | undefined, required: readonly string[]): boolean {
  const have = new Set((granted ?? '').split(' '));
  return required.every((s) => have.has(s));
}

/** What the guard answers for anything thrown: its own refusals as they are, a 503 when the token's state cannot be learnt, else a 500 without internals. */
function guardError(thrown: unknown): OAuthError {
  if (thrown instanceof OAuthError) return thrown;
  if (thrown instanceof GuardUnavailableError) return new TemporarilyUnavailable('token state cannot be checked, retry later', { debug: thrown.message });
  return new ServerError('internal error', { debug: (thrown as Error)?.stack ?? String(thrown) });
}

/**
 * Koa middleware for other services: accepts `Authorization: Bearer <assetgate access token>`, puts
 * the device's claims on ctx.state.device, and answers RFC 6750 errors itself (401 with a Bearer
 * challenge, 403 insufficient_scope, 503 with Retry-After when the token's state cannot be learnt).
 */
export function assetgateGuard(options: AssetgateGuardOptions): Middleware {
  const realm = options.realm ?? DEFAULT_REALM;
  const required = options.requiredScopes ?? [];
  const clock = options.clock ?? systemClock;
  let resolver: TokenResolver;
  let proofReplay: DpopProofReplay;
  if (options.mode === 'redis') {
    const reader = redisTokenReader(options.redis, { keyPrefix: options.keyPrefix ?? DEFAULT_KEY_PREFIX, clock, issuerRefreshMs: options.issuerRefreshMs ?? 5000 });
    resolver = redisResolver(reader);
    proofReplay = reader;
  } else {
    resolver = introspectionResolver(options);
    proofReplay = processProofReplay(clock);
  }
  const algorithms = options.dpop?.algorithms ?? DEFAULT_DPOP_ALGORITHMS;
  const dpopDeps: DpopVerifierDeps | undefined = options.dpop && {
    algorithms,
    iatWindowSeconds: options.dpop.iatWindowSeconds ?? DEFAULT_DPOP_IAT_WINDOW_SECONDS,
    skewSeconds: options.dpop.skewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS,
    clock,
    store: proofReplay,
    nonces: undefined,
  };
  const publicUrl = options.dpop?.publicUrl.replace(/\/+$/, '');
  // DPoP is advertised without credentials only when this guard can check proofs.
  const fail = challengeFor(realm, algorithms, () => ({ bearer: true, dpop: dpopDeps !== undefined }), options.resourceMetadata);

  async function deviceOf(ctx: Context): Promise<DeviceClaims> {
    const { scheme, token } = readCredentials(ctx.req, fail);
    const claims = await resolver.resolve(token);
    if (!claims) throw fail(new InvalidToken('access token is invalid, expired or revoked'), scheme);
    // Before any proof is checked: a session for another service is refused whatever it proves.
    if (!claims.aud.includes(options.resource)) throw fail(new InvalidToken('access token is not meant for this resource'), scheme);
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
      const err = guardError(thrown);
      if (err.status >= 500) options.onUnavailable?.(thrown as Error);
      respondWithError(ctx, err);
      return;
    }
    ctx.state.device = device;
    await next();
  };
}
