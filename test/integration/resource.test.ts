import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { eventKey, storedEvents } from '../support/ingest.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { rawHead, rawRequest } from '../support/attack.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
// Under the default policy (`optional`) both schemes are accepted, so both are offered.
/** Both schemes, each naming the resource's RFC 9728 metadata (§5.1). */
const bothChallenges = (): string => {
  const metadata = `resource_metadata="${ag.url}/.well-known/oauth-protected-resource"`;
  return `Bearer realm="assetgate", ${metadata}, DPoP realm="assetgate", algs="ES256 RS256 PS256 EdDSA", ${metadata}`;
};

let issuer: MockIssuer;
let ag: Harness;

beforeAll(async () => {
  issuer = await MockIssuer.start();
  ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, INGEST_MAX_BYTES: '2048' } });
});
afterAll(async () => {
  await ag.close();
  await issuer.close();
});

const mint = (claims: Record<string, unknown> = {}) => assetToken(issuer, ag.tokenEndpoint, { claims });
async function accessTokenFor(claims: Record<string, unknown> = {}): Promise<string> {
  const res = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await mint(claims) });
  expect(res.status).toBe(200);
  return res.json.access_token as string;
}
const ingest = (token: string, body: string, contentType = 'application/json') =>
  call(`${ag.url}/ingestapi`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, body });

describe('GET /resource', () => {
  it('answers the device claims of an access token', async () => {
    const token = await accessTokenFor({ did: 'dev-resource-1', aid: '02iRES' });
    const res = await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ did: 'dev-resource-1', aid: '02iRES', iss: issuer.url, via: 'access_token' });
    // a token can be used many times
    expect((await call(`${ag.url}/resource`, { headers: { authorization: `bearer ${token}` } })).status).toBe(200);
  });

  it('challenges without an error code when no credentials are sent (RFC 6750 §3.1), for both schemes (RFC 9449 §7.1)', async () => {
    const res = await call(`${ag.url}/resource`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(bothChallenges());
    expect(res.text).toBe('');
  });

  it('answers invalid_token for unknown, forged or revoked-looking tokens', async () => {
    const real = await accessTokenFor();
    const tampered = `${real.slice(0, -1)}${real.endsWith('x') ? 'y' : 'x'}`; // always a different last character
    for (const token of ['nope', 'AAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB', tampered]) {
      const res = await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(401);
      expect(res.json.error).toBe('invalid_token');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="assetgate", error="invalid_token", error_description="[^"]+", resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource"$/);
    }
  });

  it('answers invalid_request for a malformed Authorization header, and ignores other schemes', async () => {
    const bad = await call(`${ag.url}/resource`, { headers: { authorization: 'Bearer a b' } });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('invalid_request');
    expect(bad.headers.get('www-authenticate')).toMatch(/error="invalid_request"/);
    const basic = await call(`${ag.url}/resource`, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(basic.status).toBe(401);
    expect(basic.headers.get('www-authenticate')).toBe(bothChallenges());
  });

  it('rejects an expired access token', async () => {
    const h = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, ACCESS_TOKEN_TTL_SECONDS: '1' } });
    try {
      const res = await postForm(h.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken(issuer, h.tokenEndpoint) });
      expect(res.json.expires_in).toBe(1);
      await new Promise((r) => setTimeout(r, 1100));
      const after = await call(`${h.url}/resource`, { headers: { authorization: `Bearer ${String(res.json.access_token)}` } });
      expect(after.status).toBe(401);
      expect(after.json.error).toBe('invalid_token');
    } finally {
      await h.close();
    }
  });
});

describe('POST /ingestapi', () => {
  it('appends an event with an access token and answers 202 with the stream id', async () => {
    const token = await accessTokenFor({ did: 'dev-ingest-1', aid: '02iING' });
    const res = await ingest(token, '{"temperature": 21.5}');
    expect(res.status).toBe(202);
    const id = res.json.id as string;
    expect(id).toMatch(/^\d+-\d+$/);
    const entries = (await storedEvents(ag.redis!, ag.prefix)).filter((e) => eventKey(e) === eventKey(res.json));
    expect(entries).toHaveLength(1);
    const map = entries[0]!.fields;
    expect(map).toMatchObject({ did: 'dev-ingest-1', aid: '02iING', iss: issuer.url, body: '{"temperature": 21.5}' });
    expect(Number(map.receivedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('accepts an asset token itself (bearer sequence), once', async () => {
    const asset = await mint({ did: 'dev-bearer-seq' });
    const first = await ingest(asset, '{"some":"data"}');
    expect(first.status).toBe(202);
    const again = await ingest(asset, '{"some":"data"}');
    expect(again.status).toBe(401);
    expect(again.json.error).toBe('invalid_token');
    expect(again.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  it('shares single use between the bearer sequence and the exchange', async () => {
    const asset = await mint();
    expect((await ingest(asset, '{}')).status).toBe(202);
    const ex = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: asset });
    expect(ex.json.error).toBe('invalid_grant');
  });

  it('rejects an invalid asset token as invalid_token', async () => {
    const res = await ingest(await mint({ aud: ['https://not-us'] }), '{}');
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('invalid_token');
  });

  it('answers 415 for a non-JSON body, 413 over the limit, 400 for broken JSON, without burning the asset token', async () => {
    const asset = await mint();
    const wrongType = await ingest(asset, 'a=b', 'application/x-www-form-urlencoded');
    expect(wrongType.status).toBe(415);
    const tooBig = await ingest(asset, JSON.stringify({ pad: 'x'.repeat(4096) }));
    expect(tooBig.status).toBe(413);
    const broken = await ingest(asset, '{"a":');
    expect(broken.status).toBe(400);
    expect(broken.json.error).toBe('invalid_request');
    expect((await ingest(asset, '{"ok":true}')).status).toBe(202);
  });

  it('checks the credentials before it reads the body: no one gets the server to buffer INGEST_MAX_BYTES for nothing', async () => {
    const oversized = JSON.stringify({ pad: 'x'.repeat(4096) });
    for (const token of ['AAAAAAAAAAAA.' + 'B'.repeat(43), await mint({ aud: ['https://not-us'] })]) {
      const res = await ingest(token, oversized);
      expect([res.status, res.json.error]).toEqual([401, 'invalid_token']);
    }
    // A body announced and never sent: the refusal comes without waiting for it.
    const head = rawHead('POST', '/ingestapi', { Authorization: `Bearer ${'AAAAAAAAAAAA.' + 'B'.repeat(43)}`, 'Content-Type': 'application/json', 'Content-Length': 1000 });
    const started = Date.now();
    const unsent = await rawRequest(ag.url, [head, '{"a":']);
    expect(unsent.status).toBe(401);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('health', () => {
  it('reports liveness and readiness', async () => {
    expect((await call(`${ag.url}/healthz`)).json).toEqual({ status: 'ok' });
    const ready = await call(`${ag.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.json.status).toBe('ready');
  });
});
