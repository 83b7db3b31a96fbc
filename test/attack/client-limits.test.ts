import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { requestFrom } from '../support/attack.js';
import { basic, INTROSPECTION_CLIENTS, RS, rsAuth } from '../support/resource-servers.js';

/**
 * Findings of an attacker's review: client secrets guessed at the endpoints resource servers call,
 * a client rotating through its IPv6 /64 to dodge the per-address limit, a revocation answer that
 * claims an asset token is dead while it stays usable, and /metrics open in production.
 */
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const PER_IP = 3;

let issuer: MockIssuer;
const started: Harness[] = [];
beforeAll(async () => {
  issuer = await MockIssuer.start();
});
afterAll(async () => {
  for (const h of started) await h.close();
  await issuer.close();
});

async function start(env: Record<string, string> = {}): Promise<Harness> {
  const h = await startAssetgate({
    env: { TRUSTED_ISSUERS: issuer.url, INTROSPECTION_CLIENTS, RATE_LIMIT_FAILED_PER_IP: String(PER_IP), RATE_LIMIT_WINDOW_SECONDS: '60', ...env },
  });
  started.push(h);
  return h;
}

describe('client authentication at introspection and revocation has a failure limit', () => {
  it('refuses (429) an address that keeps failing, even with the right secret then; others are not held back', async () => {
    const ag = await start();
    const wrong = { authorization: basic(RS.id, 'not-the-secret-0123456789') };
    const post = (path: string) => (ip: string, headers: Record<string, string>) =>
      requestFrom(ip, `${ag.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: 'token=x' });
    const introspect = post('/oauth2/introspect');
    const revoke = post('/oauth2/revoke');
    for (let i = 0; i < PER_IP; i++) {
      const res = await (i % 2 === 0 ? introspect : revoke)('127.0.6.1', wrong);
      expect([res.status, res.json.error]).toEqual([401, 'invalid_client']);
    }
    for (const res of [await introspect('127.0.6.1', rsAuth), await revoke('127.0.6.1', rsAuth)]) {
      expect([res.status, res.json.error]).toEqual([429, 'temporarily_unavailable']);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    expect((await introspect('127.0.6.2', rsAuth)).json).toEqual({ active: false });
  });
});

describe('the per-address limit counts IPv6 per /64', () => {
  it('holds back every address of the /64 that failed, and no other /64', async () => {
    const ag = await start({ TRUSTED_PROXY_HOPS: '1' });
    const failFrom = (forwardedFor: string) =>
      requestFrom('127.0.0.1', ag.tokenEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': forwardedFor },
        body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: 'not.a.jwt' }).toString(),
      });
    for (let i = 1; i <= PER_IP; i++) expect((await failFrom(`2001:db8:0:1::${i.toString(16)}`)).status).toBe(400);
    expect((await failFrom('2001:db8:0:1:ffff:ffff:ffff:fffe')).status).toBe(429);
    expect((await failFrom('2001:db8:0:2::1')).status).toBe(400);
  });
});

describe('revoking an asset token (RFC 7009)', () => {
  it('answers unsupported_token_type instead of a 200 that would claim it is dead', async () => {
    const ag = await start();
    const asset = await assetToken(issuer, ag.tokenEndpoint);
    const res = await postForm(`${ag.url}/oauth2/revoke`, { token: asset }, rsAuth);
    expect([res.status, res.json.error]).toEqual([400, 'unsupported_token_type']);
    // What the answer says is true: the asset token was not touched.
    expect((await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: asset })).status).toBe(200);
  });
});

describe('/metrics in production', () => {
  it('is not served without METRICS_TOKEN, and the server says so at start', async () => {
    const ag = await start({ NODE_ENV: 'production' });
    expect((await call(`${ag.url}/metrics`)).status).toBe(404);
    expect(ag.logs.join('')).toMatch(/\/metrics is not served: set METRICS_TOKEN/);
  });

  it('wants the token when one is set', async () => {
    const token = 'metrics-token-0123456789';
    const ag = await start({ NODE_ENV: 'production', METRICS_TOKEN: token });
    expect((await call(`${ag.url}/metrics`)).status).toBe(401);
    expect((await call(`${ag.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });
});
