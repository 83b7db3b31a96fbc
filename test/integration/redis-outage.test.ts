import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { RedisServerProcess } from '../support/redis-server.js';
import { migratedPrefix } from '../support/redis.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

let redis: RedisServerProcess;
let issuer: MockIssuer;
let ag: Harness;

beforeAll(async () => {
  redis = await RedisServerProcess.start();
  issuer = await MockIssuer.start();
  ag = await startAssetgate({ redisUrl: redis.url, env: { TRUSTED_ISSUERS: issuer.url } });
});
afterAll(async () => {
  await ag.close().catch(() => undefined);
  await issuer.close();
  await redis.stop();
});

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Redis outage', () => {
  it('answers 503 while Redis is down and recovers without a restart', async () => {
    const good = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken(issuer, ag.tokenEndpoint) });
    expect(good.status).toBe(200);
    const accessToken = good.json.access_token as string;

    await redis.stop();
    await until(async () => (await call(`${ag.url}/readyz`)).status === 503);

    const assertion = await assetToken(issuer, ag.tokenEndpoint);
    const exchange = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion });
    expect(exchange.status).toBe(503);
    expect(exchange.json.error).toBe('temporarily_unavailable');
    expect(exchange.headers.get('retry-after')).toBeTruthy();

    const resource = await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(resource.status).toBe(503);
    const ingest = await call(`${ag.url}/ingestapi`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(ingest.status).toBe(503);

    await redis.start(); // same port, empty (no persistence): the old token is gone with the schema key
    await until(async () => (await call(`${ag.url}/readyz`)).json.keyspace === 'schema_mismatch');
    await migratedPrefix(ag.redis!, ag.prefix);
    await until(async () => (await call(`${ag.url}/readyz`)).status === 200);
    // The assertion that met the outage was not consumed: the device can retry it.
    const retry = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion });
    expect(retry.status).toBe(200);
    const check = await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${String(retry.json.access_token)}` } });
    expect(check.status).toBe(200);
  });
});
