import type { RedisConnection } from './redis-client.js';
import type { AccessTokenHandle } from './access-token.js';
import { deviceTag, issuerKey, redisKeys, type RedisKeys } from './keys.js';
import { deviceRevokedNotice, revocationChannel, tokenRevokedNotice } from './lookup-cache.js';
import { decodeRecord, encodeRecord, IssuerDirectory, ResourceDirectory } from './record-codec.js';
import {
  StoreUnavailableError,
  type AccessTokenRecord,
  type AssertionUse,
  type ConsumeOutcome,
  type Device,
  type DpopProofUse,
  type NewAccessToken,
  type TokenStore,
} from './store.js';

/**
 * One round trip per exchange: the script refuses a blocked device, sets the single-use mark
 * (SET NX, so of N concurrent replays exactly one wins) and writes the token. All keys share the
 * device's hash tag, so the script is Cluster-safe.
 * KEYS: 1 use mark, 2 device not-before, 3 token key ('' args when no token), 4 the id's not-before
 * of schema 4 and earlier (any issuer: whose it was cannot be told from its hashed key)
 * ARGV: 1 mark ttl ms, 2 issuedAt ms or '', 3 token value or '', 4 token ttl ms
 */
const CONSUME_SCRIPT = `
for _, key in ipairs({KEYS[2], KEYS[4]}) do
  local nb = redis.call('GET', key)
  if nb and (ARGV[2] == '' or tonumber(ARGV[2]) < tonumber(nb)) then return 2 end
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 1 end
if ARGV[3] ~= '' then redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4]) end
return 0
`;

/**
 * KEYS: 1 revoked-before, 2 not-before. ARGV: 1 at ms, 2 block-before ms or '', 3 ttl ms.
 * Never moves a mark back, never shortens its life: the mark keeps the later time and the later
 * expiry of the two (PTTL: -1 none, -2 absent), so a revocation from a process with shorter
 * settings cannot end an earlier, longer one.
 */
const REVOKE_DEVICE_SCRIPT = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = math.max(tonumber(ARGV[3]), redis.call('PTTL', KEYS[1]))
redis.call('SET', KEYS[1], tostring(math.max(tonumber(ARGV[1]), cur)), 'PX', ttl)
if ARGV[2] ~= '' then
  local nb = tonumber(redis.call('GET', KEYS[2]) or '0')
  if tonumber(ARGV[2]) > nb then redis.call('SET', KEYS[2], ARGV[2]) end
end
return 1
`;

/** KEYS: 1 mark TTL. ARGV: 1 this server's. Only ever raised: every server's sessions are covered. */
const RAISE_MARK_TTL_SCRIPT = `
if tonumber(ARGV[1]) > tonumber(redis.call('GET', KEYS[1]) or '0') then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`;

const OUTCOMES: Record<number, ConsumeOutcome> = { 0: 'accepted', 1: 'replayed', 2: 'device_blocked' };

type ScriptedRedis = RedisConnection & {
  agConsume(k1: string, k2: string, k3: string, k4: string, ...args: string[]): Promise<number>;
  agRevokeDevice(k1: string, k2: string, ...args: string[]): Promise<number>;
  agRaiseMarkTtl(k1: string, ttl: string): Promise<number>;
};

export interface RedisStoreOptions {
  keyPrefix: string;
  /**
   * How long a device-wide revocation mark must last for this process's sessions: its longest access
   * token life plus skew. A server publishes it (publishMarkTtl); a revocation uses the largest
   * published by any server, so a revoker with shorter settings still covers every session.
   */
  revocationMarkTtlMs: number;
  clock: { now(): number };
  /**
   * The trusted issuers (the server): their records are stored with a short issuer id, and a record
   * of any other issuer is not found. Absent (tools that only write marks, tests): any issuer, its
   * records written with the issuer in full. The guard library reads records itself
   * (guard/redis-reader.ts), through the `<prefix>issuers` registry the server writes.
   */
  issuers?: readonly string[];
  /**
   * The resources sessions are issued for (the server), the built-in one (PUBLIC_URL) first: a
   * record names them by short ids. Absent: only sessions for no resource at all can be read.
   */
  resources?: { builtin: string; servers: readonly string[] };
}

/**
 * The revocation mark TTL a process with this session lifetime needs: the lifetime and a minute
 * (a session issued in the revocation's millisecond, clocks a little apart between instances).
 */
export const revocationMarkTtlMs = (accessTokenTtlSeconds: number): number => (accessTokenTtlSeconds + 60) * 1000;

/**
 * Every Redis call goes through here: any failure, thrown or rejected, becomes StoreUnavailableError
 * (a 503 the client can retry). Not async: one rejection handler, no extra frame or promise per Redis call.
 */
function guarded<T>(what: string, op: () => Promise<T>): Promise<T> {
  let pending: Promise<T>;
  try {
    pending = op();
  } catch (err) {
    pending = Promise.reject(err as Error);
  }
  return pending.catch((err: Error) => {
    throw new StoreUnavailableError(`redis ${what} failed: ${err.message}`);
  });
}

export class RedisTokenStore implements TokenStore {
  private readonly redis: ScriptedRedis;
  private readonly keys: RedisKeys;
  private readonly issuers: IssuerDirectory;
  private readonly resources: ResourceDirectory;

  constructor(
    redis: RedisConnection,
    private readonly options: RedisStoreOptions,
  ) {
    this.keys = redisKeys(options.keyPrefix);
    this.issuers = new IssuerDirectory(options.issuers ?? [], options.issuers !== undefined);
    this.resources = new ResourceDirectory(options.resources?.builtin, options.resources?.servers);
    if (!('agConsume' in redis)) {
      redis.defineCommand('agConsume', { numberOfKeys: 4, lua: CONSUME_SCRIPT });
      redis.defineCommand('agRevokeDevice', { numberOfKeys: 2, lua: REVOKE_DEVICE_SCRIPT });
      redis.defineCommand('agRaiseMarkTtl', { numberOfKeys: 1, lua: RAISE_MARK_TTL_SCRIPT });
    }
    this.redis = redis as ScriptedRedis;
  }

  /**
   * Publishes the trusted issuers' short ids in the `<prefix>issuers` registry, so that readers
   * without the configuration (the guard library) can resolve them.
   */
  async publishIssuers(): Promise<void> {
    // Replaced, never only added to: the guard library trusts what the registry lists, so an issuer
    // dropped from TRUSTED_ISSUERS must leave it (one MULTI: no reader sees it empty).
    const registry = this.issuers.registry();
    const key = this.keys.issuers();
    await guarded('issuer registry', () => {
      const tx = this.redis.multi().del(key);
      if (registry.length > 0) tx.hset(key, Object.fromEntries(registry));
      return tx.exec();
    });
  }

  /**
   * Publishes the resources' short ids in the `<prefix>resources` registry, so that the guard
   * library resolves the audience of a record. Replaced whole, like the issuers: a resource dropped
   * from the configuration leaves it.
   */
  async publishResources(): Promise<void> {
    const key = this.keys.resources();
    await guarded('resource registry', () => this.redis.multi().del(key).hset(key, this.resources.registry()).exec());
  }

  /** The issuers the servers on this keyspace trust, as they last published them. */
  async publishedIssuers(): Promise<string[]> {
    return guarded('issuer registry', () => this.redis.hvals(this.keys.issuers()));
  }

  /** Raises `<prefix>mark-ttl` to this server's revocation mark TTL (start-up, before the first session). */
  async publishMarkTtl(): Promise<void> {
    await guarded('mark ttl', () => this.redis.agRaiseMarkTtl(this.keys.markTtl(), String(this.options.revocationMarkTtlMs)));
  }

  private useKey(use: AssertionUse, tag = deviceTag(use.subject)): string {
    return this.keys.assertionUse(tag, use.iss, use.jti);
  }

  async consumeAssertion(use: AssertionUse, token?: NewAccessToken): Promise<ConsumeOutcome> {
    const now = this.options.clock.now();
    const tag = deviceTag(use.subject);
    // PX takes whole milliseconds only; NumericDate claims may carry fractions (RFC 7519 §2).
    const markTtl = Math.ceil(Math.max(1000, use.forgetAtMs - now));
    const tokenKey = token ? this.keys.accessToken(token.handle.tag, token.handle.hash) : this.keys.accessToken(tag, '-');
    const tokenTtl = token ? Math.ceil(Math.max(1, token.record.exp - now)) : 0;
    const code = await guarded('consume', () =>
      this.redis.agConsume(
        this.useKey(use, tag),
        this.keys.deviceNotBefore(tag, issuerKey(use.iss)),
        tokenKey,
        this.keys.deviceNotBefore(tag),
        String(markTtl),
        use.issuedAtMs === undefined ? '' : String(use.issuedAtMs),
        token ? encodeRecord(token.record, this.issuers, this.resources) : '',
        String(tokenTtl),
      ),
    );
    const outcome = OUTCOMES[code];
    if (!outcome) throw new StoreUnavailableError(`unexpected consume reply ${code}`);
    return outcome;
  }

  async releaseAssertion(use: AssertionUse): Promise<void> {
    await guarded('release', () => this.redis.del(this.useKey(use)));
  }

  async consumeDpopProof(proof: DpopProofUse): Promise<'accepted' | 'replayed'> {
    const ttl = Math.max(1000, proof.forgetAtMs - this.options.clock.now());
    const set = await guarded('dpop jti', () => this.redis.set(this.keys.dpopProof(proof.jkt, proof.jti), '1', 'PX', ttl, 'NX'));
    return set === 'OK' ? 'accepted' : 'replayed';
  }

  async findAccessToken(handle: AccessTokenHandle): Promise<AccessTokenRecord | null> {
    const [value, revokedBefore] = await guarded('lookup', () =>
      this.redis.mget(this.keys.accessToken(handle.tag, handle.hash), this.keys.deviceRevokedBefore(handle.tag, handle.issuer)),
    );
    if (!value) return null;
    const record = decodeRecord(value, this.issuers, this.resources);
    if (!record) return null;
    if (record.exp <= this.options.clock.now()) return null;
    if (revokedBefore && record.iat <= Number(revokedBefore)) return null;
    return record;
  }

  async revokeAccessToken(handle: AccessTokenHandle): Promise<void> {
    await guarded('revoke', () => this.redis.del(this.keys.accessToken(handle.tag, handle.hash)));
    await this.notify(tokenRevokedNotice(handle));
  }

  /**
   * Tells instances with a resource lookup cache (lookup-cache.ts). The revocation itself is already
   * in Redis; a notice that cannot be sent is covered by the cache's TTL bound, so it is not an error.
   */
  private async notify(message: string): Promise<void> {
    await this.redis.publish(revocationChannel(this.options.keyPrefix), message).catch(() => undefined);
  }

  async revokeDevice(device: Device, atMs: number, blockAssetTokensBeforeMs?: number): Promise<void> {
    const tag = deviceTag(device.subject);
    const issuer = issuerKey(device.iss);
    // Two keys outside the device's slot: separate reads (a revocation is rare; the exchange never pays).
    const [published, legacyUntil] = await guarded('revoke device', () =>
      Promise.all([this.redis.get(this.keys.markTtl()), this.redis.get(this.keys.legacyUntil())]),
    );
    const ttl = Math.max(this.options.revocationMarkTtlMs, Number(published ?? 0));
    await guarded('revoke device', () =>
      this.redis.agRevokeDevice(
        this.keys.deviceRevokedBefore(tag, issuer),
        this.keys.deviceNotBefore(tag, issuer),
        String(atMs),
        blockAssetTokensBeforeMs === undefined ? '' : String(blockAssetTokensBeforeMs),
        String(ttl),
      ),
    );
    // Sessions minted before devices were keyed by issuer read the id's mark of every issuer: while
    // one may live (<prefix>legacy-until, set by the migration), it is written too. Stricter than
    // needed for another issuer's device of the same id, and only until those sessions expire.
    const legacyLeftMs = Number(legacyUntil ?? 0) - this.options.clock.now();
    if (legacyLeftMs > 0) {
      await guarded('revoke device', () =>
        this.redis.agRevokeDevice(this.keys.deviceRevokedBefore(tag), this.keys.deviceNotBefore(tag), String(atMs), '', String(Math.ceil(legacyLeftMs))),
      );
    }
    await this.notify(deviceRevokedNotice(tag));
  }

  async ping(): Promise<void> {
    await guarded('ping', () => this.redis.ping());
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * The server's store: records name only the trusted issuers (a record of any other issuer is not
 * found) and the configured resources, whose short ids are published before the first request can
 * write one.
 */
export async function openRedisTokenStore(
  redis: RedisConnection,
  options: RedisStoreOptions & Required<Pick<RedisStoreOptions, 'issuers' | 'resources'>>,
): Promise<RedisTokenStore> {
  const store = new RedisTokenStore(redis, options);
  await store.publishIssuers();
  await store.publishResources();
  await store.publishMarkTtl();
  return store;
}
