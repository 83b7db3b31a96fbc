import type { RedisConnection } from '../tokens/redis-client.js';
import type { Clock } from '../clock.js';
import type { AccessTokenHandle } from '../tokens/access-token.js';
import { KEYSPACE_SCHEMA_VERSION, redisKeys } from '../tokens/keys.js';
import { decodeRecord, IssuerDirectory, ResourceDirectory } from '../tokens/record-codec.js';
import type { AccessTokenReader, AccessTokenRecord, DpopProofReplay, DpopProofUse } from '../tokens/store.js';
import { GuardUnavailableError } from './claims.js';

/** The commands the guard sends: reads, and the SET NX of a DPoP proof mark. */
export type GuardRedis = Pick<RedisConnection, 'get' | 'mget' | 'hgetall' | 'set'>;

export interface RedisReaderOptions {
  keyPrefix: string;
  clock: Clock;
  /**
   * How long the trusted issuers and the resources read from Redis are reused: the longest a dropped
   * issuer (or resource) still counts.
   */
  issuerRefreshMs: number;
}

/** Any Redis failure is a 503 for the guard's caller: the token's state cannot be learnt. */
function unavailable(what: string): (err: Error) => never {
  return (err) => {
    throw new GuardUnavailableError(`redis ${what} failed: ${err.message}`);
  };
}

/**
 * A read-only view of assetgate's keyspace for the guard library: the token record and the
 * device revocation mark in one MGET (a revocation is seen on the very next request), and the
 * server's trusted issuers from the `<prefix>issuers` registry and its resources (what a record's
 * audience ids stand for) from `<prefix>resources`, reread at most every issuerRefreshMs, so a token of an issuer the server dropped from TRUSTED_ISSUERS is refused
 * here as it is there. The keyspace schema is checked once: against another layout the guard
 * answers 503 (and says why) instead of guessing.
 */
export function redisTokenReader(redis: GuardRedis, options: RedisReaderOptions): AccessTokenReader & DpopProofReplay {
  const keys = redisKeys(options.keyPrefix);
  const { clock } = options;
  let schemaChecked = false;
  let issuers = new IssuerDirectory([], true);
  let resources = new ResourceDirectory();
  let issuersReadAt = -Infinity;
  let pendingIssuers: Promise<void> | undefined;

  async function checkSchema(): Promise<void> {
    const version = Number((await redis.get(keys.schema()).catch(unavailable('schema'))) ?? '0');
    if (version !== KEYSPACE_SCHEMA_VERSION) {
      throw new GuardUnavailableError(
        `assetgate keyspace "${options.keyPrefix}" is at schema ${version}, this guard reads schema ${KEYSPACE_SCHEMA_VERSION}: upgrade one of them`,
      );
    }
    schemaChecked = true;
  }

  /** Concurrent requests at a refresh share one HGETALL. */
  function refreshIssuers(): Promise<void> {
    pendingIssuers ??= Promise.all([redis.hgetall(keys.issuers()), redis.hgetall(keys.resources())])
      .then(([issuerRegistry, resourceRegistry]) => {
        issuers = new IssuerDirectory(Object.values(issuerRegistry), true);
        resources = ResourceDirectory.fromRegistry(resourceRegistry);
        issuersReadAt = clock.now();
      }, unavailable('issuer registry'))
      .finally(() => {
        pendingIssuers = undefined;
      });
    return pendingIssuers;
  }

  return {
    async findAccessToken(handle: AccessTokenHandle): Promise<AccessTokenRecord | null> {
      if (!schemaChecked) await checkSchema();
      if (clock.now() - issuersReadAt >= options.issuerRefreshMs) await refreshIssuers();
      const [value, revokedBefore] = await redis
        .mget(keys.accessToken(handle.tag, handle.hash), keys.deviceRevokedBefore(handle.tag, handle.issuer))
        .catch(unavailable('lookup'));
      if (!value) return null;
      const record = decodeRecord(value, issuers, resources);
      if (!record || record.exp <= clock.now()) return null;
      if (revokedBefore && record.iat <= Number(revokedBefore)) return null;
      return record;
    },
    async consumeDpopProof(proof: DpopProofUse): Promise<'accepted' | 'replayed'> {
      const ttl = Math.max(1000, proof.forgetAtMs - clock.now());
      const set = await redis.set(keys.dpopProof(proof.jkt, proof.jti), '1', 'PX', ttl, 'NX').catch(unavailable('dpop jti'));
      return set === 'OK' ? 'accepted' : 'replayed';
    },
  };
}
