import type { RedisConnection } from '../tokens/redis-client.js';
import type { Context, Middleware, Next } from 'koa';
import type { Clock } from '../clock.js';
import { InsufficientScope, InvalidToken, TemporarilyUnavailable, type OAuthError } from '../oauth/errors.js';
import { toOAuthError } from '../oauth/render-error.js';
import { bearerChallenge } from '../resource/challenge.js';
import { requireBearer } from '../resource/guard.js';
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

function challenged<E extends OAuthError>(err: E, realm: string): E {
  err.headers['WWW-Authenticate'] = bearerChallenge(realm, { code: err.code, description: err.description });
  return err;
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
  const parseBearer = requireBearer(realm);

  async function deviceOf(ctx: Context): Promise<DeviceClaims> {
    let token = '';
    await parseBearer(ctx, async () => {
      token = ctx.state.bearer as string;
      delete ctx.state.bearer; // the raw token does not linger on the host app's state
    });
    const claims = await resolver.resolve(token);
    if (!claims) throw challenged(new InvalidToken('access token is invalid, expired or revoked'), realm);
    if (!hasScopes(claims.scope, required)) throw challenged(new InsufficientScope(`requires scope "${required.join(' ')}"`), realm);
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
