import { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from '../clock.js';
import { digest } from '../tokens/keys.js';
import { GuardUnavailableError, type DeviceClaims, type TokenResolver } from './claims.js';

export interface IntrospectionClientOptions {
  /** e.g. https://assetgate.example.com/oauth2/introspect */
  introspectionEndpoint: string;
  clientId: string;
  clientSecret: string;
  /** How long an answer is reused: the longest a revoked token is still accepted. Default 5000 ms; 0: no cache. */
  cacheTtlMs?: number;
  /** Bound on cached answers (least recently used go first). Default 10 000. */
  cacheMaxEntries?: number;
  /** Per call to the introspection endpoint. Default 2000 ms. */
  timeoutMs?: number;
  clock?: Clock;
}

interface CachedAnswer {
  claims: DeviceClaims | null;
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
}

const optionalString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** RFC 7662 §2.2 `aud`: a string or a list of them; anything else names no resource (the session is then valid nowhere here). */
const audienceOf = (aud: unknown): string[] =>
  typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];

/** Pure: an RFC 7662 response body -> claims, null when inactive; throws when it makes no sense. */
export function claimsOfIntrospection(body: unknown): DeviceClaims | null {
  if (typeof body !== 'object' || body === null) throw new GuardUnavailableError('introspection answered no JSON object');
  const b = body as Record<string, unknown>;
  if (b.active !== true) return null;
  if (typeof b.sub !== 'string' || typeof b.exp !== 'number' || typeof b.iat !== 'number') {
    throw new GuardUnavailableError('active introspection answer lacks sub, exp or iat');
  }
  const claims: DeviceClaims = { sub: b.sub, aud: audienceOf(b.aud), exp: b.exp, iat: b.iat, assetTokenIssuer: optionalString(b.asset_token_issuer) ?? '' };
  const did = optionalString(b.did);
  const aid = optionalString(b.aid);
  const scope = optionalString(b.scope);
  if (did !== undefined) claims.did = did;
  if (aid !== undefined) claims.aid = aid;
  if (scope !== undefined) claims.scope = scope;
  const jkt = optionalString((b.cnf as { jkt?: unknown } | undefined)?.jkt);
  if (jkt !== undefined) claims.cnf = { jkt };
  return claims;
}

/**
 * Asks assetgate's introspection endpoint (RFC 7662) with client_secret_basic, and keeps answers in
 * a bounded LRU cache keyed by sha256(token) for at most cacheTtlMs (never past the token's exp).
 * Concurrent requests with one token share one call. Staleness: a revoked token stays accepted for
 * up to cacheTtlMs on this process.
 */
export function introspectionResolver(options: IntrospectionClientOptions): TokenResolver {
  const clock = options.clock ?? systemClock;
  const ttl = options.cacheTtlMs ?? 5000;
  const timeoutMs = options.timeoutMs ?? 2000;
  const authorization = basicAuthorization(options.clientId, options.clientSecret);

  async function introspect(token: string): Promise<DeviceClaims | null> {
    // A timer of our own, cleared at once, so no pending timeout outlives the call.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      let response: Response;
      try {
        response = await fetch(options.introspectionEndpoint, {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
          redirect: 'error',
          signal: abort.signal,
        });
      } catch (err) {
        throw new GuardUnavailableError(`introspection request failed: ${(err as Error).message}`);
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new GuardUnavailableError(`introspection answered HTTP ${response.status}`);
      }
      let body: unknown;
      try {
        body = await response.json();
      } catch {
        throw new GuardUnavailableError('introspection answered no JSON');
      }
      return claimsOfIntrospection(body);
    } finally {
      clearTimeout(timer);
    }
  }

  const cache = new LRUCache<string, CachedAnswer, string>({
    max: options.cacheMaxEntries ?? 10_000,
    ttl: Math.max(1, ttl),
    fetchMethod: async (_key, _stale, { options: entry, context: token }) => {
      const claims = await introspect(token);
      if (claims) entry.ttl = Math.max(1, Math.min(ttl, claims.exp * 1000 - clock.now()));
      return { claims };
    },
  });

  return {
    async resolve(token: string): Promise<DeviceClaims | null> {
      // lru-cache reads ttl 0 as "for ever": cacheTtlMs <= 0 means no cache at all.
      const claims = ttl > 0 ? ((await cache.fetch(digest(token), { context: token }))?.claims ?? null) : await introspect(token);
      if (claims && claims.exp * 1000 <= clock.now()) return null;
      return claims;
    },
  };
}
