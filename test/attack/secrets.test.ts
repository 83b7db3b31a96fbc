import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, makeKey, MockIssuer } from '../support/mock-issuer.js';
import { keysUnder } from '../support/redis.js';
import { formFrom } from '../support/attack.js';

/**
 * Secrets at rest and in logs: after a full run through success and failure paths, no Redis key or
 * value under the suite's prefix holds a raw access token or an assertion, and no log line (at
 * trace level) holds a token, an assertion, a secret or an Authorization header.
 */
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const CLIENT_SECRET = 'hunter2-client-secret-7f3a9c';

let issuer: MockIssuer;
let ag: Harness;
const accessTokens: string[] = [];
const assertions: string[] = [];

beforeAll(async () => {
  issuer = await MockIssuer.start();
  ag = await startAssetgate({
    env: { TRUSTED_ISSUERS: issuer.url, LOG_LEVEL: 'trace', RATE_LIMIT_FAILED_PER_IP: '20', RATE_LIMIT_FAILED_PER_DEVICE: '2', SUPPORTED_SCOPES: 'ingest' },
  });
  await fullRun();
});
afterAll(async () => {
  await ag.close();
  await issuer.close();
});

async function mint(o: Parameters<typeof assetToken>[2] = {}): Promise<string> {
  const t = await assetToken(issuer, ag.tokenEndpoint, o);
  assertions.push(t);
  return t;
}

/** Every path the server has: successes, every kind of failure, the limiter, both sequences. */
async function fullRun(): Promise<void> {
  const basic = `Basic ${Buffer.from(`device-app:${CLIENT_SECRET}`).toString('base64')}`;
  const ok = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await mint(), client_id: 'device-app', client_secret: CLIENT_SECRET }, { authorization: basic });
  expect(ok.status).toBe(200);
  accessTokens.push(ok.json.access_token as string);
  const te = await postForm(ag.tokenEndpoint, { grant_type: TOKEN_EXCHANGE, subject_token: await mint(), subject_token_type: JWT_TYPE, scope: 'ingest' });
  expect(te.status).toBe(200);
  accessTokens.push(te.json.access_token as string);

  // Failures at the token endpoint: replay, bad signature, expired, wrong audience, bad scope.
  const once = await mint();
  await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: once });
  expect((await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: once })).status).toBe(400);
  expect((await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await mint({ key: await makeKey(issuer.keys[0]!.kid) }) })).status).toBe(400);
  expect((await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await mint({ claims: { exp: Math.floor(Date.now() / 1000) - 3600 } }) })).status).toBe(400);
  expect((await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await mint({ claims: { aud: 'elsewhere' } }) })).status).toBe(400);
  expect((await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await mint(), scope: '"bad"' })).status).toBe(400);
  // The limiter: one address over its limit.
  const forger = await makeKey('x');
  for (let i = 0; i < 20; i++) await formFrom('127.0.0.9', ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await mint({ key: forger }) });
  expect((await formFrom('127.0.0.9', ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await mint() })).status).toBe(429);

  // Resources: access token, asset token (bearer sequence), both for /resource and /ingestapi.
  for (const bearer of [accessTokens[0]!, await mint()]) {
    expect((await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${bearer}` } })).status).toBe(200);
  }
  for (const bearer of [accessTokens[1]!, await mint()]) {
    const res = await call(`${ag.url}/ingestapi`, { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: '{"temperature":21}' });
    expect(res.status).toBe(202);
  }
  // Resource failures: unknown token, replayed asset token, basic auth, malformed, expired asset token.
  const replayed = await mint();
  await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${replayed}` } });
  const tampered = `${accessTokens[0]!.slice(0, -1)}${accessTokens[0]!.endsWith('A') ? 'B' : 'A'}`; // always another token
  for (const authorization of [`Bearer ${tampered}`, `Bearer ${replayed}`, basic, `Bearer ${CLIENT_SECRET} extra`, `Bearer ${await mint({ claims: { exp: 1 } })}`]) {
    const res = await call(`${ag.url}/resource`, { headers: { authorization } });
    expect([400, 401]).toContain(res.status);
  }
  expect((await call(`${ag.url}/ingestapi`, { method: 'POST', headers: { authorization: `Bearer ${accessTokens[0]!}`, 'content-type': 'text/plain' }, body: 'x' })).status).toBe(415);
  expect((await call(`${ag.url}/nope?access_token=${accessTokens[0]!}`)).status).toBe(404);
}

/** What must never be seen: whole tokens and their secret parts. */
function secretsNeverToAppear(): string[] {
  const out = [CLIENT_SECRET, Buffer.from(`device-app:${CLIENT_SECRET}`).toString('base64')];
  for (const t of accessTokens) out.push(t, t.split('.')[1]!);
  for (const a of assertions) {
    const [, payload, signature] = a.split('.') as [string, string, string];
    out.push(a, signature, payload);
  }
  return out;
}

describe('nothing secret at rest', () => {
  it('no Redis key or value under the prefix holds a raw access token or an assertion', async () => {
    const keys = await keysUnder(ag.redis!, ag.prefix);
    expect(keys.length).toBeGreaterThan(5);
    const dump: string[] = [];
    for (const key of keys) {
      dump.push(key);
      const type = await ag.redis!.type(key);
      if (type === 'string') dump.push((await ag.redis!.get(key)) ?? '');
      else if (type === 'stream') dump.push(JSON.stringify(await ag.redis!.xrange(key, '-', '+')));
      else if (type === 'hash') dump.push(JSON.stringify(await ag.redis!.hgetall(key)));
      else if (type === 'list') dump.push(JSON.stringify(await ag.redis!.lrange(key, 0, -1)));
      else if (type === 'set') dump.push(JSON.stringify(await ag.redis!.smembers(key)));
      else if (type === 'zset') dump.push(JSON.stringify(await ag.redis!.zrange(key, "0", "-1")));
      else throw new Error(`unexpected key type ${type} for ${key}`);
    }
    const all = dump.join('\n');
    expect(all).toContain('temperature'); // the scan really saw the stream
    for (const secret of secretsNeverToAppear()) expect(all.includes(secret)).toBe(false);
  });
});

describe('nothing secret in logs', () => {
  it('no log line holds a token, an assertion, a secret or an Authorization header', () => {
    const all = ag.logs.join('');
    expect(ag.logs.length).toBeGreaterThan(25); // the run really logged
    expect(all).toMatch(/"status":429/);
    expect(all).toMatch(/"status":202/);
    for (const secret of secretsNeverToAppear()) expect(all.includes(secret)).toBe(false);
    expect(all).not.toMatch(/"authorization"\s*:/i);
    expect(all).not.toMatch(/Bearer [A-Za-z0-9._~+/-]{8,}/);
    expect(all).not.toMatch(/Basic [A-Za-z0-9+/=]{8,}/);
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/); // no base64url JSON object: no JOSE segment at all
  });
});
