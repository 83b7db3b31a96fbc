import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { storedEventKeys, eventKey } from '../support/ingest.js';
import { RedisServerProcess } from '../support/redis-server.js';

/**
 * Redis killed (SIGKILL) and frozen (SIGSTOP) under load, on a redis-server of this test's own with
 * an fsync-always append-only file, so what Redis acknowledged survives the kill: the token
 * endpoint and the resources answer 503 (never 500, never a token accepted unverified), /readyz
 * flips, the server recovers by itself, and every ingest that got 202 is in the stream afterwards.
 */
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

let redis: RedisServerProcess;
let dataDir: string;
let issuer: MockIssuer;
let ag: Harness;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'ag-redis-faults-'));
  redis = await RedisServerProcess.start(['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dataDir]);
  issuer = await MockIssuer.start();
  ag = await startAssetgate({ redisUrl: redis.url, env: { TRUSTED_ISSUERS: issuer.url, RATE_LIMIT_FAILED_PER_IP: '1000', RATE_LIMIT_FAILED_PER_DEVICE: '1000' } });
});
afterAll(async () => {
  redis.resume();
  await ag.close();
  await issuer.close();
  await redis.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const mint = (claims: Record<string, unknown> = {}) => assetToken(issuer, ag.tokenEndpoint, { claims });
const exchange = async (assertion: string) => postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion });
const ingest = (bearer: string, n: number) =>
  call(`${ag.url}/ingestapi`, { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: JSON.stringify({ n }) });

async function until(probe: () => Promise<boolean>, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Ingest load from a few workers until stopped; collects every answer. */
function ingestLoad(bearer: string, workers = 4) {
  const accepted: string[] = [];
  const statuses = new Map<number, number>();
  let running = true;
  let n = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const res = await ingest(bearer, n++).catch(() => ({ status: -1, json: {} as Record<string, unknown> }));
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 202) accepted.push(eventKey(res.json));
      await new Promise((r) => setImmediate(r));
    }
  });
  return {
    accepted,
    statuses,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

const streamIds = (): Promise<Set<string>> => storedEventKeys(ag.redis!, ag.prefix, ag.config.ingest.partitions);

describe('Redis killed and restarted mid-load', () => {
  it('answers 503 while Redis is gone, recovers by itself, and loses no accepted event', async () => {
    const session = (await exchange(await mint())).json.access_token as string;
    const usedBefore = await mint();
    expect((await exchange(usedBefore)).status).toBe(200);
    expect((await call(`${ag.url}/readyz`)).status).toBe(200);

    const load = ingestLoad(session);
    await until(async () => load.accepted.length >= 20, 'ingest load to get going');
    await redis.stop(); // SIGKILL

    await until(async () => (await call(`${ag.url}/readyz`)).status === 503, '/readyz to flip to 503');
    const ready = await call(`${ag.url}/readyz`);
    expect(ready.headers.get('retry-after')).toBe('1');

    // Nothing that needs the store is accepted while it is gone, and nothing is a 500.
    const fresh = await exchange(await mint());
    expect(fresh.status).toBe(503);
    expect(fresh.json.error).toBe('temporarily_unavailable');
    expect(fresh.headers.get('retry-after')).toBe('1');
    const replay = await exchange(usedBefore);
    expect(replay.status).toBe(503); // cannot tell it is a replay: so not accepted
    const viaAccess = await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${session}` } });
    expect(viaAccess.status).toBe(503);
    const viaAsset = await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${await mint()}` } });
    expect(viaAsset.status).toBe(503);
    const forged = await call(`${ag.url}/resource`, { headers: { authorization: 'Bearer AAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB' } });
    expect(forged.status).toBe(503);
    // Bad input is still refused as such: no store needed to know that.
    expect((await exchange('not.a.jwt')).status).toBe(400);
    const duringOutage = load.accepted.length;
    await new Promise((r) => setTimeout(r, 300));

    await redis.start(); // same port, same append-only file
    await until(async () => (await call(`${ag.url}/readyz`)).status === 200, '/readyz to recover');
    await until(async () => load.accepted.length >= duringOutage + 20, 'ingest to resume');
    await load.stop();

    // Recovered without a restart: sessions from before the outage still work, replay is still caught.
    expect((await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${session}` } })).status).toBe(200);
    expect((await exchange(usedBefore)).status).toBe(400);
    expect((await exchange(await mint())).status).toBe(200);

    const statuses = [...load.statuses.keys()];
    expect(statuses.every((s) => s === 202 || s === 503)).toBe(true);
    expect(load.statuses.get(503) ?? 0).toBeGreaterThan(0);
    const ids = await streamIds();
    const missing = load.accepted.filter((id) => !ids.has(id));
    expect(missing).toEqual([]);
    expect(load.accepted.length).toBeGreaterThan(40);
  });
});

describe('Redis frozen (SIGSTOP)', () => {
  it('answers 503 once commands time out, and recovers when Redis thaws', async () => {
    const session = (await exchange(await mint())).json.access_token as string;
    const load = ingestLoad(session, 2);
    await until(async () => load.accepted.length >= 5, 'ingest load to get going');
    redis.pause();
    try {
      const [ready, fresh, resource] = await Promise.all([
        call(`${ag.url}/readyz`),
        exchange(await mint()),
        call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${session}` } }),
      ]);
      expect(ready.status).toBe(503);
      expect(fresh.status).toBe(503);
      expect(resource.status).toBe(503);
    } finally {
      redis.resume();
    }
    await until(async () => (await call(`${ag.url}/readyz`)).status === 200, '/readyz to recover');
    const resumedAt = load.accepted.length;
    await until(async () => load.accepted.length >= resumedAt + 10, 'ingest to resume');
    await load.stop();
    expect([...load.statuses.keys()].every((s) => s === 202 || s === 503)).toBe(true);
    const ids = await streamIds();
    expect(load.accepted.filter((id) => !ids.has(id))).toEqual([]);
    expect((await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${session}` } })).status).toBe(200);
  });

  it('logged no 500 through both faults', () => {
    const statuses = ag.logs.map((l) => (JSON.parse(l) as { status?: number }).status).filter((s): s is number => s !== undefined);
    expect(statuses.filter((s) => s >= 500 && s !== 503)).toEqual([]);
  });
});
