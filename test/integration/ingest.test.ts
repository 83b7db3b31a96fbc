import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Cluster } from 'ioredis';
import { IngestConsumer, ingestStatus, type DeliveredEvent } from '../../src/ingest/index.js';
import { INGEST_CONSUMER_GROUP, IngestLayout, deviceIdentity, partitionTag, slotOf } from '../../src/ingest/partitions.js';
import { RedisIngestSink } from '../../src/ingest/redis-sink.js';
import { withIngestScripts } from '../../src/ingest/scripts.js';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { eventKey, storedEventKeys, storedEvents } from '../support/ingest.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { dropPrefix, migratedPrefix, testAdminClient, uniquePrefix } from '../support/redis.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

let issuer: MockIssuer;
beforeAll(async () => {
  issuer = await MockIssuer.start();
});
afterAll(async () => {
  await issuer.close();
});

const post = (ag: Harness, bearer: string, body: string) =>
  call(`${ag.url}/ingestapi`, { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body });
const mint = (ag: Harness, did: string) => assetToken(issuer, ag.tokenEndpoint, { claims: { did } });
async function session(ag: Harness, did: string): Promise<string> {
  const res = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await mint(ag, did) });
  expect(res.status).toBe(200);
  return res.json.access_token as string;
}

/** Reads everything there is with a library consumer, acknowledging each event; stops when a pass finds nothing. */
async function drain(ag: Harness, name = 'drainer', claimIdleMs = 60_000): Promise<DeliveredEvent[]> {
  const consumer = new IngestConsumer({ redis: ag.redis!, keyPrefix: ag.prefix, consumer: name, idleWaitMs: 20, claimIdleMs });
  const got: DeliveredEvent[] = [];
  let quiet: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(quiet);
    quiet = setTimeout(() => consumer.stop(), 400);
  };
  arm();
  for await (const e of consumer.events()) {
    got.push(e);
    await e.ack();
    arm();
  }
  clearTimeout(quiet);
  return got;
}

describe('partition layout', () => {
  it('gives every partition a hash tag in its own equal slice of the slot space', () => {
    for (const count of [1, 3, 16, 64]) {
      const slots = Array.from({ length: count }, (_, i) => slotOf(partitionTag(i, count)));
      slots.forEach((slot, i) => {
        expect(slot).toBeGreaterThanOrEqual(Math.floor((i * 16384) / count));
        expect(slot).toBeLessThan(Math.floor(((i + 1) * 16384) / count));
      });
    }
    // Redis's own CRC16 of a known key (CLUSTER KEYSLOT foo = 12182).
    expect(slotOf('foo')).toBe(12182);
  });

  it('sends one device always to the same partition, and 200 devices over all 16', () => {
    const layout = new IngestLayout('ag:', 'ingest', 16);
    const a = layout.partitionOf(deviceIdentity('https://a.example', 'dev-1'));
    expect(layout.partitionOf(deviceIdentity('https://a.example', 'dev-1'))).toBe(a);
    const spread = new Set(Array.from({ length: 200 }, (_, i) => layout.partitionOf(deviceIdentity('https://a.example', `dev-${i}`)).index));
    expect(spread.size).toBe(16);
  });
});

describe('ingest across partitions', () => {
  let ag: Harness;
  beforeAll(async () => {
    ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url } });
  });
  afterAll(async () => {
    await ag.close();
  });

  it('keeps a device in order in one partition and spreads many devices over the partitions (every master of a Cluster)', async () => {
    const accepted: string[] = [];
    for (let d = 0; d < 48; d++) {
      const res = await post(ag, await mint(ag, `spread-${d}`), `{"d":${d}}`);
      expect(res.status).toBe(202);
      accepted.push(eventKey(res.json));
    }
    const token = await session(ag, 'ordered-device');
    const ordered: Array<{ partition: number; id: string }> = [];
    for (let n = 0; n < 20; n++) {
      const res = await post(ag, token, `{"n":${n}}`);
      ordered.push(res.json as { partition: number; id: string });
    }
    expect(new Set(ordered.map((o) => o.partition)).size).toBe(1);

    const events = await storedEvents(ag.redis!, ag.prefix);
    expect(accepted.every((k) => events.some((e) => eventKey(e) === k))).toBe(true);
    const mine = events.filter((e) => e.fields.did === 'ordered-device').map((e) => JSON.parse(e.fields.body!) as { n: number });
    expect(mine.map((b) => b.n)).toEqual(Array.from({ length: 20 }, (_, n) => n));
    expect(new Set(events.map((e) => e.partition)).size).toBeGreaterThan(8);

    if (ag.redis instanceof Cluster) {
      // Each master holds partition streams with events: ingest grows with the masters.
      for (const node of ag.redis.nodes('master')) {
        let held = 0;
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${ag.prefix}ingest:{*}`, 'COUNT', 1000, 'TYPE', 'stream');
          for (const key of keys) held += await node.xlen(key);
          cursor = next;
        } while (cursor !== '0');
        expect(held).toBeGreaterThan(0);
      }
    }
  });

  it('answers the partition with the id, and the consumer library delivers every accepted event with its fields', async () => {
    const token = await session(ag, 'lib-device');
    const res = await post(ag, token, '{"temperature":21.5}');
    expect(res.status).toBe(202);
    const events = await drain(ag);
    const got = events.find((e) => eventKey(e) === eventKey(res.json));
    expect(got).toMatchObject({ did: 'lib-device', sub: 'lib-device', iss: issuer.url, body: '{"temperature":21.5}', deliveries: 1 });
    expect(got!.receivedAt).toBeGreaterThan(Date.now() - 60_000);
    // Acknowledged and trimmed: nothing left behind.
    const status = await ingestStatus(ag.redis!, { keyPrefix: ag.prefix });
    expect(status.reduce((a, s) => a + s.backlog + s.length + s.bytes, 0)).toBe(0);
  });
});

describe('backpressure: no consumer at all', () => {
  let ag: Harness;
  beforeAll(async () => {
    ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, INGEST_BACKLOG_LIMIT: '25', METRICS_TOKEN: 'scrape-me-0123456789abcdef' } });
  });
  afterAll(async () => {
    await ag.close();
  });

  it('fills the partition to its limit, then answers 503 without consuming the asset token; nothing accepted is missing; after a drain, 202 again', async () => {
    const token = await session(ag, 'flood-device');
    const accepted: string[] = [];
    let refusal: Awaited<ReturnType<typeof post>> | undefined;
    for (let n = 0; n < 40 && !refusal; n++) {
      const res = await post(ag, token, `{"n":${n}}`);
      if (res.status === 202) accepted.push(eventKey(res.json));
      else refusal = res;
    }
    expect(accepted).toHaveLength(25);
    expect(refusal!.status).toBe(503);
    expect(refusal!.json.error).toBe('temporarily_unavailable');
    expect(Number(refusal!.headers.get('retry-after'))).toBeGreaterThan(0);

    // The bearer sequence: a refused call leaves its asset token unused.
    const asset = await mint(ag, 'flood-device');
    const refusedBearer = await post(ag, asset, '{"bearer":true}');
    expect(refusedBearer.status).toBe(503);

    const stored = await storedEventKeys(ag.redis!, ag.prefix);
    expect(accepted.filter((k) => !stored.has(k))).toEqual([]);
    const metrics = await call(`${ag.url}/metrics`, { headers: { authorization: 'Bearer scrape-me-0123456789abcdef' } });
    expect(metrics.text).toMatch(/assetgate_ingest_refusals_total\{reason="backlog_entries"\} 2\n/);
    // The refused bearer call's token was accepted, then given back: spent = accepted - released = 0.
    expect(metrics.text).toContain('assetgate_assertions_accepted_total{stage="resource"} 1\n');
    expect(metrics.text).toContain('assetgate_assertions_released_total{stage="resource"} 1\n');
    const partition = accepted[0]!.split('/')[0]!;
    expect(metrics.text).toContain(`assetgate_ingest_backlog{partition="${partition}"} 25\n`);
    expect(metrics.text).toMatch(new RegExp(`assetgate_ingest_oldest_unacknowledged_seconds\\{partition="${partition}"\\} [0-9.]+\\n`));

    const drained = await drain(ag);
    expect(new Set(drained.map(eventKey))).toEqual(new Set(accepted));
    // The same asset token goes through now: it was never consumed.
    const retried = await post(ag, asset, '{"bearer":true}');
    expect(retried.status).toBe(202);
    expect((await post(ag, asset, '{"bearer":true}')).status).toBe(401); // and now it is
    expect((await post(ag, token, '{"after":true}')).status).toBe(202);
    const after = await call(`${ag.url}/metrics`, { headers: { authorization: 'Bearer scrape-me-0123456789abcdef' } });
    expect(after.text).toContain('assetgate_assertions_accepted_total{stage="resource"} 2\n');
    expect(after.text).toContain('assetgate_assertions_released_total{stage="resource"} 1\n');
    expect(after.text).toContain('assetgate_assertion_rejections_total{stage="resource",reason="replayed"} 1\n');
  });

  it('budgets the backlog in bytes as well', async () => {
    const small = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, INGEST_MAX_BYTES: '4096', INGEST_BACKLOG_MAX_BYTES: '10000' } });
    try {
      const token = await session(small, 'bytes-device');
      const body = JSON.stringify({ pad: 'x'.repeat(3000) });
      const statuses: number[] = [];
      for (let n = 0; n < 5; n++) statuses.push((await post(small, token, body)).status);
      expect(statuses).toEqual([202, 202, 202, 503, 503]);
      const [status] = (await ingestStatus(small.redis!, { keyPrefix: small.prefix })).filter((s) => s.length > 0);
      expect(status!.bytes).toBeGreaterThan(9000);
      expect(status!.bytes).toBeLessThanOrEqual(10000);
    } finally {
      await small.close();
    }
  });
});

describe('per-device limits', () => {
  it('answers 429 with Retry-After to a device over its events or bytes per window; other devices go on', async () => {
    const ag = await startAssetgate({
      env: { TRUSTED_ISSUERS: issuer.url, INGEST_DEVICE_MAX_EVENTS: '3', INGEST_DEVICE_MAX_BYTES: '3000', INGEST_MAX_BYTES: '2048', INGEST_DEVICE_WINDOW_SECONDS: '30' },
    });
    try {
      const noisy = await session(ag, 'noisy-device');
      const statuses: number[] = [];
      for (let n = 0; n < 4; n++) statuses.push((await post(ag, noisy, '{}')).status);
      expect(statuses).toEqual([202, 202, 202, 429]);
      const over = await post(ag, noisy, '{}');
      expect(over.json.error).toBe('temporarily_unavailable');
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(over.headers.get('retry-after'))).toBeLessThanOrEqual(30);
      const asset = await mint(ag, 'noisy-device');
      expect((await post(ag, asset, '{}')).status).toBe(429);
      const other = await session(ag, 'quiet-device');
      expect((await post(ag, other, '{}')).status).toBe(202);

      const heavy = await session(ag, 'heavy-device');
      const big = JSON.stringify({ pad: 'y'.repeat(1800) });
      expect((await post(ag, heavy, big)).status).toBe(202);
      expect((await post(ag, heavy, big)).status).toBe(429);
      expect((await post(ag, heavy, '{}')).status).toBe(202);
      expect(await redisWindowTtl(ag, 'heavy-device')).toBeLessThanOrEqual(30_000);
    } finally {
      await ag.close();
    }
  });
});

async function redisWindowTtl(ag: Harness, did: string): Promise<number> {
  const layout = new IngestLayout(ag.prefix, 'ingest', 16);
  const device = deviceIdentity(issuer.url, did);
  return ag.redis!.pttl(layout.partitionOf(device).deviceWindow(device));
}

describe('trimming on Redis 7.0: by MINID below what the group still needs', () => {
  const redis = testAdminClient();
  let prefix: string;
  afterAll(async () => {
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });

  it('trims acknowledged entries only: never a pending or undelivered one, and frees their bytes', async () => {
    prefix = await migratedPrefix(redis, uniquePrefix(), 'ingest', 1);
    const limits = { backlogEntries: 100, backlogBytes: 1 << 20, deviceEvents: 0, deviceBytes: 0, deviceWindowMs: 60_000 };
    const sink = await RedisIngestSink.open(redis, { keyPrefix: prefix, streamName: 'ingest', partitions: 1, limits });
    const ids: string[] = [];
    for (let n = 0; n < 10; n++) {
      const out = await sink.append({ sub: 'd', iss: 'i', receivedAt: 1_700_000_000_000 + n, body: `{"n":${n}}` });
      ids.push((out as { id: string }).id);
    }
    const [p] = sink.layout.partitions;
    const scripts = withIngestScripts(redis);
    const trim = () => scripts.agIngestTrim(p!.stream, p!.bytes, p!.sizes, INGEST_CONSUMER_GROUP);
    const retained = async () => (await redis.xrange(p!.stream, '-', '+')).map(([id]) => id);
    const bytesOf = async (keep: string[]) => {
      const entries = await redis.xrange(p!.stream, '-', '+');
      return entries.filter(([id]) => keep.includes(id)).reduce((a, [, f]) => a + f.filter((_, i) => i % 2 === 1).reduce((b, v) => b + Buffer.byteLength(v), 0), 0);
    };

    // Nothing delivered: nothing may go.
    expect(await trim()).toBe(0);
    // Five delivered, three of them (0, 1, 3) acknowledged: 2 and 4 are pending.
    await redis.xreadgroup('GROUP', INGEST_CONSUMER_GROUP, 'c1', 'COUNT', 5, 'STREAMS', p!.stream, '>');
    await redis.xack(p!.stream, INGEST_CONSUMER_GROUP, ids[0]!, ids[1]!, ids[3]!);
    expect(await trim()).toBe(2);
    expect(await retained()).toEqual(ids.slice(2)); // 3 stays behind the pending 2 (only ever later, never early)
    expect(Number(await redis.get(p!.bytes))).toBe(await bytesOf(ids.slice(2)));
    expect(await redis.llen(p!.sizes)).toBe(8);

    await redis.xack(p!.stream, INGEST_CONSUMER_GROUP, ids[2]!, ids[4]!);
    expect(await trim()).toBe(3);
    expect(await retained()).toEqual(ids.slice(5)); // the undelivered five stay
    // Delivered and acknowledged to the end: the stream empties and the budget is back to zero.
    await redis.xreadgroup('GROUP', INGEST_CONSUMER_GROUP, 'c1', 'COUNT', 100, 'STREAMS', p!.stream, '>');
    await redis.xack(p!.stream, INGEST_CONSUMER_GROUP, ...ids.slice(5));
    expect(await trim()).toBe(5);
    expect(await redis.xlen(p!.stream)).toBe(0);
    expect(await redis.get(p!.bytes)).toBeNull();
  });

  it('sets an entry delivered too often aside in the dead-letter stream, and takes over what a dead consumer held', async () => {
    const pre = await migratedPrefix(redis, uniquePrefix(), 'ingest', 2);
    try {
      const limits = { backlogEntries: 100, backlogBytes: 1 << 20, deviceEvents: 0, deviceBytes: 0, deviceWindowMs: 60_000 };
      const sink = await RedisIngestSink.open(redis, { keyPrefix: pre, streamName: 'ingest', partitions: 2, limits });
      const poison = (await sink.append({ sub: 'poison', iss: 'i', receivedAt: Date.now(), body: '{"poison":true}' })) as { id: string; partition: number };
      // A consumer that never acknowledges: each pass takes it over again after 50 ms idle.
      const crashing = new IngestConsumer({ redis, keyPrefix: pre, consumer: 'crashing', idleWaitMs: 10, claimIdleMs: 50, maxDeliveries: 3 });
      const seen: number[] = [];
      const stopAt = Date.now() + 3000;
      for await (const e of crashing.events()) {
        seen.push(e.deliveries);
        if (seen.length >= 2 || Date.now() > stopAt) break;
      }
      expect(seen).toEqual([1, 2]);
      await new Promise((r) => setTimeout(r, 80));
      // The third delivery's owner goes away too; the next consumer finds it delivered enough times.
      await redis.call('XCLAIM', new IngestLayout(pre, 'ingest', 2).partitions[poison.partition]!.stream, INGEST_CONSUMER_GROUP, 'gone', 0, poison.id);
      await new Promise((r) => setTimeout(r, 80));
      const healthy = new IngestConsumer({ redis, keyPrefix: pre, consumer: 'healthy', idleWaitMs: 10, claimIdleMs: 50, maxDeliveries: 3 });
      setTimeout(() => healthy.stop(), 500);
      const delivered: DeliveredEvent[] = [];
      for await (const e of healthy.events()) delivered.push(e);
      expect(delivered).toEqual([]);
      const status = await ingestStatus(redis, { keyPrefix: pre });
      expect(status[poison.partition]).toMatchObject({ deadLetters: 1, pending: 0, backlog: 0 });
      const [dead] = await redis.xrange(new IngestLayout(pre, 'ingest', 2).partitions[poison.partition]!.deadLetters, '-', '+');
      expect(dead![1]).toEqual(expect.arrayContaining(['body', '{"poison":true}', 'origin', poison.id, 'deliveries', '3']));
    } finally {
      await dropPrefix(redis, pre);
    }
  });
});

describe('keyspace and configuration', () => {
  it('refuses to start with another partition count than the keyspace was set up with', async () => {
    const redis = testAdminClient();
    const prefix = await migratedPrefix(redis, uniquePrefix(), 'ingest', 4);
    try {
      const limits = { backlogEntries: 1, backlogBytes: 1024, deviceEvents: 0, deviceBytes: 0, deviceWindowMs: 1000 };
      await expect(RedisIngestSink.open(redis, { keyPrefix: prefix, streamName: 'ingest', partitions: 16, limits })).rejects.toThrow(
        /INGEST_PARTITIONS is 16 but the keyspace was set up with 4 partitions/,
      );
    } finally {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });
});
