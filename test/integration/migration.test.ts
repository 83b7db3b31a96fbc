import { afterAll, describe, expect, it } from '@jest/globals';
import { INGEST_CONSUMER_GROUP, LATEST_SCHEMA_VERSION, migrations } from '../../migrations/index.js';
import { IngestConsumer, ingestStatus, type DeliveredEvent } from '../../src/ingest/index.js';
import { deviceIdentity, IngestLayout } from '../../src/ingest/partitions.js';
import { accessTokenHandle, mintAccessToken } from '../../src/tokens/access-token.js';
import { deviceTag, digest, KEYSPACE_SCHEMA_VERSION, redisKeys } from '../../src/tokens/keys.js';
import { RedisTokenStore } from '../../src/tokens/redis-store.js';
import { redisTokenReader } from '../../src/guard/redis-reader.js';
import { encodeRecord, IssuerDirectory, ResourceDirectory } from '../../src/tokens/record-codec.js';
import { openRedisTokenStore } from '../../src/tokens/redis-store.js';
import { currentSchemaVersion, migrate } from '../../src/tokens/schema.js';
import { dropPrefix, keysUnder, testAdminClient, uniquePrefix } from '../support/redis.js';
import { eventKey, storedEvents } from '../support/ingest.js';

const redis = testAdminClient();
const prefix = uniquePrefix();
afterAll(async () => {
  await dropPrefix(redis, prefix);
  redis.disconnect();
});

describe('migration 2: compact records and 132-bit key hashes', () => {
  it('renames tokens and single-use marks of schema 1, keeping value and TTL; the old record is still found', async () => {
    await migrations[0]!.up({ redis, keyPrefix: prefix, ingestStream: 'ingest' });
    await redis.set(redisKeys(prefix).schema(), '1');
    const iss = 'https://issuer.example';
    const did = '6ac9bc22-2a41-b85a-af76-c12e9e3bf8bc';
    const { token } = mintAccessToken(did);
    const tag = deviceTag(did);
    const now = Date.now();
    const oldTokenKey = `${prefix}{${tag}}:at:${digest(token)}`;
    const oldMarkKey = `${prefix}{${tag}}:jti:${digest(`${iss}\n05b-1`)}`;
    const v1 = JSON.stringify({ s: did, d: did, a: '02iX', i: iss, j: '05b-1', t: now, e: now + 600_000 });
    await redis.set(oldTokenKey, v1, 'PX', 600_000);
    await redis.set(oldMarkKey, '1', 'PX', 600_000);

    expect(await migrate({ redis, keyPrefix: prefix, ingestStream: 'ingest' })).toEqual([2, 3, 4]);

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
      const { token, handle } = mintAccessToken(did);
      const now = Date.now();
      // A record as a schema-2 server wrote it: no audience.
      const v2 = encodeRecord({ sub: did, did, iss, jti: 'old-1', aud: [builtin], iat: now, exp: now + 600_000 }, new IssuerDirectory([iss], true), new ResourceDirectory(builtin));
      expect(v2.startsWith('@')).toBe(false);
      await redis.set(redisKeys(p3).accessToken(handle.tag, handle.hash), v2, 'PX', 600_000);

      expect(await migrate({ redis, keyPrefix: p3, ingestStream: 'ingest' })).toEqual([3, 4]);
      expect(await currentSchemaVersion(redis, p3)).toBe(4);
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

    expect(await migrate({ redis, keyPrefix: old, ingestStream: 'ingest', ingestPartitions: 4 })).toEqual([4]);

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
