import { afterAll, describe, expect, it } from '@jest/globals';
import { nanoid } from 'nanoid';
import { INGEST_CONSUMER_GROUP, LATEST_SCHEMA_VERSION, migrations } from '../../migrations/index.js';
import { IngestConsumer, ingestStatus, type DeliveredEvent } from '../../src/ingest/index.js';
import { deviceIdentity, IngestLayout } from '../../src/ingest/partitions.js';
import { accessTokenHandle, mintAccessToken } from '../../src/tokens/access-token.js';
import { deviceTag, digest, issuerKey, KEYSPACE_SCHEMA_VERSION, redisKeys } from '../../src/tokens/keys.js';
import { redisTokenReader } from '../../src/guard/redis-reader.js';
import { encodeRecord, IssuerDirectory, ResourceDirectory } from '../../src/tokens/record-codec.js';
import { openRedisTokenStore, RedisTokenStore } from '../../src/tokens/redis-store.js';
import { currentSchemaVersion, migrate } from '../../src/tokens/schema.js';
import { dropPrefix, keysUnder, testAdminClient, uniquePrefix } from '../support/redis.js';
import { eventKey, storedEvents } from '../support/ingest.js';

const redis = testAdminClient();
const prefix = uniquePrefix();
afterAll(async () => {
  await dropPrefix(redis, prefix);
  redis.disconnect();
});

/** An access token as minted before devices were keyed by issuer: `<tag of the id>.<secret>`. */
const legacyToken = (did: string): string => `${deviceTag(did)}.${nanoid(43)}`;

describe('migration 2: compact records and 132-bit key hashes', () => {
  it('renames tokens and single-use marks of schema 1, keeping value and TTL; the old record is still found', async () => {
    await migrations[0]!.up({ redis, keyPrefix: prefix, ingestStream: 'ingest' });
    await redis.set(redisKeys(prefix).schema(), '1');
    const iss = 'https://issuer.example';
    const did = '6ac9bc22-2a41-b85a-af76-c12e9e3bf8bc';
    const tag = deviceTag(did);
    const token = legacyToken(did); // schema 1 tokens had no issuer key
    const now = Date.now();
    const oldTokenKey = `${prefix}{${tag}}:at:${digest(token)}`;
    const oldMarkKey = `${prefix}{${tag}}:jti:${digest(`${iss}\n05b-1`)}`;
    const v1 = JSON.stringify({ s: did, d: did, a: '02iX', i: iss, j: '05b-1', t: now, e: now + 600_000 });
    await redis.set(oldTokenKey, v1, 'PX', 600_000);
    await redis.set(oldMarkKey, '1', 'PX', 600_000);

    expect(await migrate({ redis, keyPrefix: prefix, ingestStream: 'ingest' })).toEqual([2, 3, 4, 5]);

    const keys = await keysUnder(redis, prefix);
    expect(keys).not.toContain(oldTokenKey);
    expect(keys).not.toContain(oldMarkKey);
    const handle = accessTokenHandle(token)!;
    const newTokenKey = redisKeys(prefix).accessToken(handle.tag, handle.hash);
    expect(keys).toContain(newTokenKey);
    expect(keys).toContain(redisKeys(prefix).assertionUse(tag, iss, '05b-1'));
    expect(await redis.pttl(newTokenKey)).toBeGreaterThan(500_000);

    const store = new RedisTokenStore(redis, { keyPrefix: prefix, revocationMarkTtlMs: 1, clock: { now: () => Date.now() }, issuers: [iss] });
    expect(await store.findAccessToken(handle)).toMatchObject({ sub: did, did, aid: '02iX', iss, jti: '05b-1' });
    // The renamed single-use mark still refuses a replay of the asset token.
    expect(await store.consumeAssertion({ iss, jti: '05b-1', subject: did, forgetAtMs: now + 600_000, issuedAtMs: now - 1000 })).toBe('replayed');
    // An issuer dropped from the configuration: its sessions are no longer found.
    const narrowed = new RedisTokenStore(redis, { keyPrefix: prefix, revocationMarkTtlMs: 1, clock: { now: () => Date.now() }, issuers: ['https://other.example'] });
    expect(await narrowed.findAccessToken(handle)).toBeNull();
  });
});

describe('migration 3: audience-restricted records', () => {
  it('leaves schema-2 records as they are, valid at the built-in resource (PUBLIC_URL) only', async () => {
    const p3 = uniquePrefix();
    try {
      await migrations[0]!.up({ redis, keyPrefix: p3, ingestStream: 'ingest' });
      await redis.set(redisKeys(p3).schema(), '2');
      const iss = 'https://issuer.example';
      const builtin = 'https://assetgate.example';
      const telemetry = 'https://telemetry.example';
      const did = '7ac9bc22-2a41-b85a-af76-c12e9e3bf8bc';
      const token = legacyToken(did);
      const handle = accessTokenHandle(token)!;
      const now = Date.now();
      // A record as a schema-2 server wrote it: no audience.
      const v2 = encodeRecord({ sub: did, did, iss, jti: 'old-1', aud: [builtin], iat: now, exp: now + 600_000 }, new IssuerDirectory([iss], true), new ResourceDirectory(builtin));
      expect(v2.startsWith('@')).toBe(false);
      await redis.set(redisKeys(p3).accessToken(handle.tag, handle.hash), v2, 'PX', 600_000);

      expect(await migrate({ redis, keyPrefix: p3, ingestStream: 'ingest' })).toEqual([3, 4, 5]);
      expect(await currentSchemaVersion(redis, p3)).toBe(LATEST_SCHEMA_VERSION);
      expect(await redis.get(redisKeys(p3).accessToken(handle.tag, handle.hash))).toBe(v2);

      const clock = { now: () => Date.now() };
      const store = await openRedisTokenStore(redis, { keyPrefix: p3, revocationMarkTtlMs: 1, clock, issuers: [iss], resources: { builtin, servers: [telemetry] } });
      expect((await store.findAccessToken(accessTokenHandle(token)!))?.aud).toEqual([builtin]);
      // A reader without the configuration (the guard library) learns the built-in resource from the registry.
      const guardView = redisTokenReader(redis, { keyPrefix: p3, clock, issuerRefreshMs: 1000 });
      expect((await guardView.findAccessToken(handle))?.aud).toEqual([builtin]);
    } finally {
      await dropPrefix(redis, p3);
    }
  });
});

describe('migration 5: a device is its issuer plus its id', () => {
  it('keeps sessions, revocations, blocks and single-use marks of schema 4 in force, and revocations reach the older sessions', async () => {
    const pfx = uniquePrefix();
    const keys = redisKeys(pfx);
    try {
      await migrations[0]!.up({ redis, keyPrefix: pfx, ingestStream: 'ingest' });
      await redis.set(keys.schema(), '4');
      const [a, b] = ['https://a.example', 'https://b.example'];
      const directory = new IssuerDirectory([a, b]);
      const builtin = 'https://assetgate.example';
      const resources = new ResourceDirectory(builtin);
      const now = Date.now();
      const clock = { now: () => now };
      const did = `device-7-${nanoid(6)}`;
      const revokedDid = `device-8-${nanoid(6)}`;
      const blockedDid = `device-9-${nanoid(6)}`;
      // Schema 4: tokens and marks under the id's tag alone.
      const session = async (id: string, iss: string, iat: number) => {
        const token = legacyToken(id);
        const handle = accessTokenHandle(token)!;
        await redis.set(keys.accessToken(handle.tag, handle.hash), encodeRecord({ sub: id, did: id, iss, jti: nanoid(), aud: [builtin], iat, exp: iat + 3_600_000 }, directory, resources), 'PX', 3_600_000);
        return handle;
      };
      const liveA = await session(did, a, now - 60_000);
      const liveB = await session(did, b, now - 60_000);
      const revoked = await session(revokedDid, a, now - 60_000);
      await redis.set(keys.deviceRevokedBefore(deviceTag(revokedDid)), String(now - 30_000), 'PX', 3_600_000);
      await redis.set(keys.deviceNotBefore(deviceTag(blockedDid)), String(now - 30_000));
      await redis.set(keys.assertionUse(deviceTag(did), a, 'used-1'), '1', 'PX', 600_000);

      expect(await migrate({ redis, keyPrefix: pfx, ingestStream: 'ingest' })).toEqual([5]);
      expect(Number(await redis.get(keys.legacyUntil()))).toBeGreaterThan(now + 3_500_000);

      const store = new RedisTokenStore(redis, { keyPrefix: pfx, revocationMarkTtlMs: 3_660_000, clock, issuers: [a, b], resources: { builtin, servers: [] } });
      expect(await store.findAccessToken(liveA)).toMatchObject({ sub: did, iss: a });
      expect(await store.findAccessToken(liveB)).toMatchObject({ sub: did, iss: b });
      expect(await store.findAccessToken(revoked)).toBeNull(); // revoked before the upgrade: stays revoked
      const use = (iss: string, subject: string, jti: string) => ({ iss, jti, subject, forgetAtMs: now + 600_000, issuedAtMs: now - 60_000 });
      expect(await store.consumeAssertion(use(a, did, 'used-1'))).toBe('replayed'); // spent before: still spent
      expect(await store.consumeAssertion(use(a, blockedDid, 'x-1'))).toBe('device_blocked'); // blocked before: still blocked
      expect(await store.consumeAssertion(use(b, blockedDid, 'x-2'))).toBe('device_blocked'); // (whose it was cannot be told)

      // A revocation after the upgrade names issuer A's device: it ends A's sessions minted before
      // (and, for their remaining life, B's of the same id, which shared its mark then) and A's new ones.
      const fresh = mintAccessToken({ iss: a, subject: did });
      const freshB = mintAccessToken({ iss: b, subject: did });
      const record = (iss: string) => ({ sub: did, did, iss, jti: nanoid(), aud: [builtin], iat: now, exp: now + 3_600_000 });
      expect(await store.consumeAssertion(use(a, did, 'new-a'), { handle: fresh.handle, record: record(a) })).toBe('accepted');
      expect(await store.consumeAssertion(use(b, did, 'new-b'), { handle: freshB.handle, record: record(b) })).toBe('accepted');
      await store.revokeDevice({ iss: a, subject: did }, now + 1);
      expect(await store.findAccessToken(liveA)).toBeNull();
      expect(await store.findAccessToken(fresh.handle)).toBeNull();
      expect(await store.findAccessToken(freshB.handle)).toMatchObject({ iss: b }); // B's device-7 of now on is its own
      expect(await redis.pttl(keys.deviceRevokedBefore(deviceTag(did)))).toBeGreaterThan(3_500_000);
      expect(await redis.pttl(keys.deviceRevokedBefore(deviceTag(did), issuerKey(a)))).toBeGreaterThan(3_600_000);
    } finally {
      await dropPrefix(redis, pfx);
    }
  });

  it('records no legacy window on a keyspace without sessions', async () => {
    const pfx = uniquePrefix();
    try {
      await redis.set(redisKeys(pfx).schema(), '4');
      expect(await migrate({ redis, keyPrefix: pfx, ingestStream: 'ingest' })).toEqual([5]);
      expect(await redis.exists(redisKeys(pfx).legacyUntil())).toBe(0);
    } finally {
      await dropPrefix(redis, pfx);
    }
  });
});

describe('the key layout and the migrations', () => {
  it('agree on the schema version (the guard library reads the layout of keys.ts, checked against <prefix>schema)', () => {
    expect(KEYSPACE_SCHEMA_VERSION).toBe(LATEST_SCHEMA_VERSION);
  });
});

describe('migration 4: the single ingest stream into partitions', () => {
  const old = uniquePrefix();
  afterAll(async () => {
    await dropPrefix(redis, old);
  });

  it('moves every entry the consumer group has not acknowledged to its device\'s partition, under its own id and in order; a consumer receives them all', async () => {
    // A keyspace of schema 3 with events in the single stream: some acknowledged, some pending on a consumer, some never read.
    await migrations[0]!.up({ redis, keyPrefix: old, ingestStream: 'ingest' });
    await redis.set(redisKeys(old).schema(), '3');
    const legacy = `${old}ingest`;
    const written: Array<{ id: string; did: string; n: number }> = [];
    for (let n = 0; n < 30; n++) {
      const did = `upgrade-device-${n % 4}`;
      const id = await redis.xadd(legacy, '*', 'sub', did, 'iss', 'https://issuer.example', 'receivedAt', String(Date.now()), 'body', JSON.stringify({ n }), 'did', did);
      written.push({ id: id!, did, n });
    }
    const read = (await redis.xreadgroup('GROUP', INGEST_CONSUMER_GROUP, 'old-consumer', 'COUNT', 12, 'STREAMS', legacy, '>')) as Array<[string, Array<[string, string[]]>]>;
    expect(read[0]![1]).toHaveLength(12);
    const acknowledged = written.slice(0, 12).filter((_, i) => i % 3 !== 1).map((w) => w.id); // 8 acknowledged, 4 left pending
    await redis.xack(legacy, INGEST_CONSUMER_GROUP, ...acknowledged);
    const unacknowledged = written.filter((w) => !acknowledged.includes(w.id));
    expect(unacknowledged).toHaveLength(22);

    expect(await migrate({ redis, keyPrefix: old, ingestStream: 'ingest', ingestPartitions: 4 })).toEqual([4, 5]);

    expect(await redis.exists(legacy)).toBe(0);
    const layout = new IngestLayout(old, 'ingest', 4);
    const moved = await storedEvents(redis, old, 4);
    expect(moved.map((e) => e.id).sort()).toEqual(unacknowledged.map((w) => w.id).sort());
    for (const e of moved) expect(e.partition).toBe(layout.partitionOf(deviceIdentity('https://issuer.example', e.fields.did!)).index);
    // Interrupted and run again: nothing is moved twice.
    await migrations[3]!.up({ redis, keyPrefix: old, ingestStream: 'ingest', ingestPartitions: 4 });
    expect(await storedEvents(redis, old, 4)).toHaveLength(22);

    const statuses = await ingestStatus(redis, { keyPrefix: old });
    expect(statuses.reduce((a, s) => a + s.backlog, 0)).toBe(22);
    const consumer = new IngestConsumer({ redis, keyPrefix: old, consumer: 'new-consumer', idleWaitMs: 10 });
    const got: DeliveredEvent[] = [];
    for await (const e of consumer.events()) {
      got.push(e);
      await e.ack();
      if (got.length === 22) break;
    }
    expect(new Set(got.map(eventKey))).toEqual(new Set(moved.map(eventKey)));
    for (let d = 0; d < 4; d++) {
      const mine = got.filter((e) => e.did === `upgrade-device-${d}`).map((e) => (JSON.parse(e.body) as { n: number }).n);
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
    const after = await ingestStatus(redis, { keyPrefix: old });
    expect(after.reduce((a, s) => a + s.length + s.bytes, 0)).toBe(0); // acknowledged, trimmed, the budget back at zero
  });
});
