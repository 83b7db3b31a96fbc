import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { accessTokenHandle } from '../../src/tokens/access-token.js';
import { redisKeys } from '../../src/tokens/keys.js';
import { call, postForm, startAssetgate, TestClock, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { uniquePrefix } from '../support/redis.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const AUDIENCE = 'https://assetgate.example';

let issuer: MockIssuer;
let a: Harness;
let b: Harness;
const clockA = new TestClock();

beforeAll(async () => {
  issuer = await MockIssuer.start();
  const prefix = uniquePrefix();
  // A long TTL: within these tests only a revocation notice (pub/sub) can end a cached entry early.
  const env = { TRUSTED_ISSUERS: issuer.url, TOKEN_AUDIENCES: AUDIENCE, RESOURCE_CACHE_TTL_MS: '60000' };
  a = await startAssetgate({ prefix, env, clock: clockA });
  b = await startAssetgate({ prefix, env });
});
afterAll(async () => {
  await a.close();
  await b.close();
  await issuer.close();
});

const resource = (h: Harness, token: string) => call(`${h.url}/resource`, { headers: { authorization: `Bearer ${token}` } });

async function session(did: string): Promise<string> {
  clockA.ms = Date.now();
  const res = await postForm(b.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken(issuer, AUDIENCE, { claims: { did } }) });
  expect(res.status).toBe(200);
  return String(res.json.access_token);
}

/** The revocation reaches A by pub/sub: wait for it (bounded), never longer than the cache TTL. */
async function eventuallyRefusedOnA(token: string): Promise<number> {
  let status = 0;
  for (let i = 0; i < 100; i++) {
    status = (await resource(a, token)).status;
    if (status === 401) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return status;
}

describe('resource lookup cache (RESOURCE_CACHE_TTL_MS) on two instances', () => {
  it('serves a looked-up token from the cache: a record deleted behind its back stays visible until the TTL', async () => {
    const token = await session('cache-dev-1');
    expect((await resource(a, token)).status).toBe(200);
    const handle = accessTokenHandle(token)!;
    // Bypass every revocation path: no notice is sent.
    await a.redis!.del(redisKeys(a.prefix).accessToken(handle.tag, handle.hash));
    expect((await resource(a, token)).status).toBe(200);
    expect((await resource(b, token)).status).toBe(401); // never cached on B
    clockA.advance(61); // past the staleness bound
    expect((await resource(a, token)).status).toBe(401);
  });

  it('sees a single-token revocation (RFC 7009) made on B', async () => {
    const token = await session('cache-dev-2');
    expect((await resource(a, token)).status).toBe(200);
    expect((await resource(a, token)).status).toBe(200);
    await b.runtime.deps.store.revokeAccessToken(accessTokenHandle(token)!);
    expect(await eventuallyRefusedOnA(token)).toBe(401);
  });

  it('sees a device-wide revocation made on B', async () => {
    const token = await session('cache-dev-3');
    const other = await session('cache-dev-4');
    expect((await resource(a, token)).status).toBe(200);
    expect((await resource(a, other)).status).toBe(200);
    await b.runtime.deps.store.revokeDevice({ iss: issuer.url, subject: 'cache-dev-3' }, Date.now());
    expect(await eventuallyRefusedOnA(token)).toBe(401);
    expect((await resource(a, other)).status).toBe(200);
  });
});
