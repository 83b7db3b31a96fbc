import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync, mkdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import { postForm, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { startSentinelSetup } from '../support/redis-topologies.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

let setup: Awaited<ReturnType<typeof startSentinelSetup>>;
let issuer: MockIssuer;
let ag: Harness;

beforeAll(async () => {
  setup = await startSentinelSetup();
  issuer = await MockIssuer.start();
  const env = { REDIS_SENTINELS: setup.sentinels, REDIS_SENTINEL_NAME: setup.name };
  const admin = () => {
    const client = new Redis({ sentinels: env.REDIS_SENTINELS.split(',').map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) })), name: setup.name, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined); // the test kills the master on purpose
    return client;
  };
  ag = await startAssetgate({ topology: { env, admin }, env: { TRUSTED_ISSUERS: issuer.url } });
}, 60_000);
afterAll(async () => {
  await ag?.close().catch(() => undefined);
  await issuer?.close();
  await setup?.stop();
});

describe('Redis Sentinel', () => {
  it('exchanges through the sentinel-named master, and resumes after a failover without a restart', async () => {
    const tokens = await Promise.all(Array.from({ length: 40 }, () => assetToken(issuer, ag.tokenEndpoint)));
    const first = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: tokens.pop()! });
    expect(first.status).toBe(200);
    expect(setup.currentMasterPort()).toBe(setup.masterPort);

    await setup.killMaster();
    const killedAt = Date.now();
    const statuses: number[] = [];
    let firstOkAfter: number | undefined;
    // Traffic during the failover: retry the same assertion until it goes through (a 503 consumes nothing).
    let assertion = tokens.pop()!;
    while (Date.now() - killedAt < 30_000) {
      const res = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion });
      statuses.push(res.status);
      if (res.status === 200) {
        firstOkAfter ??= Date.now() - killedAt;
        if (statuses.filter((s) => s === 200).length >= 5) break;
        assertion = tokens.pop()!;
      } else {
        expect(res.status).toBe(503);
        expect(res.json.error).toBe('temporarily_unavailable');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(firstOkAfter).toBeDefined();
    expect(setup.currentMasterPort()).toBe(setup.replicaPort);
    const failed = statuses.filter((s) => s !== 200).length;
    const report = { failedRequests: failed, requests: statuses.length, recoveredAfterMs: firstOkAfter, only503: statuses.every((s) => s === 200 || s === 503) };
    mkdirSync('test/results', { recursive: true });
    writeFileSync('test/results/sentinel-failover.json', `${JSON.stringify(report, null, 2)}\n`);
    console.log(`sentinel failover: ${JSON.stringify(report)}`);
    expect(report.only503).toBe(true);
  }, 60_000);
});
