import type { RedisConnection } from '../tokens/redis-client.js';
import { systemClock, toSeconds, type Clock } from '../clock.js';
import { accessTokenHandle } from '../tokens/access-token.js';
import { RedisTokenStore } from '../tokens/redis-store.js';
import type { AccessTokenRecord } from '../tokens/store.js';
import type { DeviceClaims, TokenResolver } from './claims.js';

export const claimsOfRecord = (record: AccessTokenRecord): DeviceClaims => {
  const claims: DeviceClaims = { sub: record.sub, exp: toSeconds(record.exp), iat: toSeconds(record.iat), assetTokenIssuer: record.iss };
  if (record.did !== undefined) claims.did = record.did;
  if (record.aid !== undefined) claims.aid = record.aid;
  if (record.scope !== undefined) claims.scope = record.scope;
  if (record.cnf) claims.cnf = { jkt: record.cnf.jkt };
  return claims;
};

/**
 * Reads assetgate's own Redis with the server's key layout and lookup (token record + device
 * revocation mark in one MGET): a revocation is seen on the very next request.
 */
export function redisResolver(redis: RedisConnection, keyPrefix: string, clock: Clock = systemClock): TokenResolver {
  // Only findAccessToken is used: the guard never writes, so the mark TTL is irrelevant here.
  const store = new RedisTokenStore(redis, { keyPrefix, revocationMarkTtlMs: 1, clock });
  return {
    async resolve(token: string): Promise<DeviceClaims | null> {
      const handle = accessTokenHandle(token);
      if (!handle) return null;
      const record = await store.findAccessToken(handle);
      return record ? claimsOfRecord(record) : null;
    },
  };
}
