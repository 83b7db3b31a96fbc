import type { RedisConnection } from '../tokens/redis-client.js';
import { systemClock, toSeconds, type Clock } from '../clock.js';
import { accessTokenHandle } from '../tokens/access-token.js';
import { RedisTokenStore } from '../tokens/redis-store.js';
import type { AccessTokenRecord } from '../tokens/store.js';
import { currentSchemaVersion } from '../tokens/schema.js';
import { LATEST_SCHEMA_VERSION } from '../../migrations/index.js';
import { GuardUnavailableError, type DeviceClaims, type TokenResolver } from './claims.js';

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
 * revocation mark in one MGET): a revocation is seen on the very next request. The keyspace schema
 * version is checked once (like the server does at start): against a keyspace of another version the
 * layout may differ, so the guard answers 503 (and tells onUnavailable why) instead of guessing.
 */
export function redisResolver(redis: RedisConnection, keyPrefix: string, clock: Clock = systemClock): TokenResolver {
  // Only findAccessToken is used: the guard never writes, so the mark TTL is irrelevant here.
  const store = new RedisTokenStore(redis, { keyPrefix, revocationMarkTtlMs: 1, clock });
  let schemaChecked = false;
  async function checkSchema(): Promise<void> {
    let version: number;
    try {
      version = await currentSchemaVersion(redis, keyPrefix);
    } catch (err) {
      throw new GuardUnavailableError(`redis unreachable: ${(err as Error).message}`);
    }
    if (version !== LATEST_SCHEMA_VERSION) {
      throw new GuardUnavailableError(`assetgate keyspace "${keyPrefix}" is at schema ${version}, this guard reads schema ${LATEST_SCHEMA_VERSION}: upgrade one of them`);
    }
    schemaChecked = true;
  }
  return {
    async resolve(token: string): Promise<DeviceClaims | null> {
      if (!schemaChecked) await checkSchema();
      const handle = accessTokenHandle(token);
      if (!handle) return null;
      const record = await store.findAccessToken(handle);
      return record ? claimsOfRecord(record) : null;
    },
  };
}
