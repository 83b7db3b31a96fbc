import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { expectFailClosed, rawHead, rawRequest } from '../support/attack.js';

/**
 * Hostile HTTP against the real app: duplicate parameters, wrong bodies, oversized and slow
 * requests, malformed Authorization, unicode everywhere. Each must get an RFC-shaped 4xx (never
 * 200, never 5xx), and the server must stay up.
 */
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

let issuer: MockIssuer;
let ag: Harness;
let accessToken: string;

beforeAll(async () => {
  issuer = await MockIssuer.start();
  ag = await startAssetgate({
    env: {
      TRUSTED_ISSUERS: issuer.url,
      FORM_MAX_BYTES: '8192',
      INGEST_MAX_BYTES: '4096',
      HTTP_REQUEST_TIMEOUT_MS: '1500',
      HTTP_HEADERS_TIMEOUT_MS: '1000',
      HTTP_MAX_HEADER_BYTES: '8192',
    },
  });
  const res = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await mint() });
  accessToken = res.json.access_token as string;
});
afterAll(async () => {
  await ag.close();
  await issuer.close();
});

const mint = (o: Parameters<typeof assetToken>[2] = {}) => assetToken(issuer, ag.tokenEndpoint, o);
const token = (body: string, contentType = 'application/x-www-form-urlencoded') =>
  call(ag.tokenEndpoint, { method: 'POST', headers: { 'content-type': contentType }, body });

describe('token endpoint parameters and bodies', () => {
  it('refuses repeated parameters, whatever their values (RFC 6749 §3.2)', async () => {
    const a = await mint();
    for (const body of [
      `grant_type=${encodeURIComponent(JWT_BEARER)}&grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${a}`,
      `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${a}&assertion=${a}`,
      `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${a}&assertion=other`,
      `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${a}&scope=a&scope=b`,
      `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${a}&gr%61nt_type=${encodeURIComponent(JWT_BEARER)}`,
    ]) {
      const res = await token(body);
      expectFailClosed(res, 400, 'invalid_request');
      expect(res.json.error_description).toMatch(/repeated/);
    }
    // None of the above consumed the assertion.
    expect((await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: a })).status).toBe(200);
  });

  it('refuses bodies of the wrong media type', async () => {
    const a = await mint();
    const form = `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${a}`;
    for (const type of ['application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded-evil', 'application/xml', 'image/png']) {
      expectFailClosed(await token(type === 'application/json' ? JSON.stringify({ grant_type: JWT_BEARER, assertion: a }) : form, type), [400, 415], 'invalid_request');
    }
    const noType = await call(ag.tokenEndpoint, { method: 'POST', body: new Uint8Array(Buffer.from(form)) });
    expectFailClosed(noType, [400, 415], 'invalid_request');
    const raw = await rawRequest(ag.url, [rawHead('POST', '/oauth2/token', { 'Content-Length': form.length }), form]);
    expectFailClosed(raw, [400, 415], 'invalid_request');
  });

  it('copes with odd form encodings: unknown names ignored, bad percent-escapes and binary refused or ignored, never 500', async () => {
    for (const body of ['%', '%zz=1', 'a=%E0%A4%A', '=&=&=', '&&&&', 'grant_type', `grant_type=${'%FF'.repeat(100)}`, '\u0000=\u0000', 'a'.repeat(8000)]) {
      const res = await token(body);
      expectFailClosed(res, [400], undefined);
    }
    const binary = await call(ag.tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0x3d, 0x26]) });
    expectFailClosed(binary, 400);
  });

  it('refuses oversized bodies: declared, chunked, and at /ingestapi', async () => {
    expectFailClosed(await token(`grant_type=x&pad=${'a'.repeat(9000)}`), 413, 'invalid_request');
    const chunked = await rawRequest(ag.url, [
      rawHead('POST', '/oauth2/token', { 'Content-Type': 'application/x-www-form-urlencoded', 'Transfer-Encoding': 'chunked' }),
      `2000\r\n${'a'.repeat(0x2000)}\r\n`,
      `2000\r\n${'a'.repeat(0x2000)}\r\n`,
      '0\r\n\r\n',
    ]);
    expectFailClosed(chunked, 413, 'invalid_request');
    const declared = await rawRequest(ag.url, [rawHead('POST', '/oauth2/token', { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': 10 ** 9 })]);
    expectFailClosed(declared, 413, 'invalid_request');
    const ingest = await call(`${ag.url}/ingestapi`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(5000) }),
    });
    expectFailClosed(ingest, 413, 'invalid_request');
  });

  it('refuses request smuggling shapes (Content-Length with Transfer-Encoding, two lengths)', async () => {
    const both = await rawRequest(ag.url, [
      rawHead('POST', '/oauth2/token', { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': 4, 'Transfer-Encoding': 'chunked' }),
      '0\r\n\r\nGET /resource HTTP/1.1\r\nHost: x\r\n\r\n',
    ]);
    expectFailClosed(both, 400, 'invalid_request');
    const twoLengths = await rawRequest(ag.url, ['POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\nConnection: close\r\n\r\nabcde']);
    expectFailClosed(twoLengths, 400, 'invalid_request');
  });
});

describe('slow and oversized requests (server limits)', () => {
  it('cuts off a slow body with 408 and an RFC-shaped body', async () => {
    const head = rawHead('POST', '/oauth2/token', { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': 100 });
    const drip = Array.from({ length: 40 }, () => 'a');
    const res = await rawRequest(ag.url, [head, ...drip], 200);
    expect(res.status).toBe(408);
    expect(res.json.error).toBe('invalid_request');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });

  it('cuts off slow headers (slowloris) with 408', async () => {
    const lines = ['POST /oauth2/token HTTP/1.1\r\n', 'Host: x\r\n', ...Array.from({ length: 30 }, (_, i) => `X-Slow-${i}: 1\r\n`)];
    const res = await rawRequest(ag.url, lines, 200);
    expect(res.status).toBe(408);
    expect(res.json.error).toBe('invalid_request');
  });

  it('refuses oversized headers with 431 and a JSON body', async () => {
    const res = await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${'a'.repeat(10_000)}` } });
    expect(res.status).toBe(431);
    expect(res.json.error).toBe('invalid_request');
    const many = await rawRequest(ag.url, [rawHead('GET', '/healthz', Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`x-h${i}`, 'v'.repeat(10)])))]);
    expect(many.status).toBe(431);
  });

  it('answers bytes that are not HTTP with 400 JSON', async () => {
    for (const garbage of ['\u0000\u0001\u0002\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 'GET /heal\u0000thz HTTP/1.1\r\n\r\n']) {
      const res = await rawRequest(ag.url, [garbage]);
      expect([400, 505]).toContain(res.status);
      if (res.status === 400) expect(res.json.error).toBe('invalid_request');
    }
  });
});

describe('Authorization header (RFC 6750 §2.1, §3)', () => {
  it('refuses malformed Authorization headers with a challenge, never 200 or 500', async () => {
    const malformed = ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer\ttoken', 'Bearer tok en', 'Bearer "quoted"', 'Bearer a=b', 'Bearer ====', 'Bearer a,Bearer b', 'Bearer@ x', '  ', 'Bearer \u00e9t\u00e9'];
    for (const value of malformed) {
      const res = await rawRequest(ag.url, [rawHead('GET', '/resource', { Authorization: value })]);
      expect([400, 401]).toContain(res.status);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="assetgate"/);
    }
    for (const value of ['Basic dXNlcjpwYXNz', 'Digest x', 'bearer-ish x']) {
      const res = await call(`${ag.url}/resource`, { headers: { authorization: value } });
      expect([400, 401]).toContain(res.status);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="assetgate"/);
    }
    // DPoP is a scheme of its own (RFC 9449 §7.1): an unknown token there is challenged as DPoP.
    const dpop = await call(`${ag.url}/resource`, { headers: { authorization: 'DPoP abc' } });
    expect(dpop.status).toBe(401);
    expect(dpop.headers.get('www-authenticate')).toMatch(/^DPoP realm="assetgate", error="invalid_token"/);
    // Unknown-but-well-formed tokens are invalid_token (401).
    for (const value of [`Bearer ${'A'.repeat(12)}.${'B'.repeat(43)}`, 'Bearer x', 'bearer abc', 'BEARER abc']) {
      const res = await call(`${ag.url}/resource`, { headers: { authorization: value } });
      expectFailClosed(res, 401, 'invalid_token');
    }
  });

  it('knows two schemes only: names of Object.prototype members carry no credentials, even with a valid token', async () => {
    for (const scheme of ['constructor', 'Constructor', 'CONSTRUCTOR', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'isPrototypeOf']) {
      for (const [method, path] of [['GET', '/resource'], ['POST', '/ingestapi']] as const) {
        const res = await call(`${ag.url}${path}`, { method, headers: { authorization: `${scheme} ${accessToken}`, 'content-type': 'application/json' }, ...(method === 'POST' ? { body: '{"t":1}' } : {}) });
        // 401 (an unknown scheme), or 400 where the name is no scheme at all (__proto__).
        expect({ scheme, path, refused: res.status === 401 || (res.status === 400 && !/^[A-Za-z]+$/.test(scheme)) }).toEqual({ scheme, path, refused: true });
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="assetgate"/);
      }
    }
    expect((await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${accessToken}` } })).status).toBe(200);
  });

  it('refuses two Authorization headers instead of picking one', async () => {
    const res = await rawRequest(ag.url, [
      'GET /resource HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' + `Authorization: Bearer ${accessToken}\r\nAuthorization: Bearer nonsense\r\n\r\n`,
    ]);
    expectFailClosed(res, 400, 'invalid_request');
    const ok = await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(ok.status).toBe(200);
  });
});

describe('unicode in every field', () => {
  const samples = ['\u00e9', '\u4e2d\u6587', '\ud83d\udd12', '\u202e', '\u0000', '\ufeff', 'a\u0301', '\u2028', '\uFFFD', 'ＡＢＣ'];

  it('form fields at the token endpoint', async () => {
    for (const u of samples) {
      for (const fields of <Array<Record<string, string>>>[
        { grant_type: u },
        { grant_type: JWT_BEARER, assertion: u },
        { grant_type: JWT_BEARER, assertion: `${u}.${u}.${u}` },
        { grant_type: JWT_BEARER, assertion: await mint(), scope: u },
        { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: await mint(), subject_token_type: u },
        { grant_type: JWT_BEARER, assertion: await mint({ claims: { did: u, id: u, aid: u } }), scope: `ok ${u}` },
      ]) {
        const res = await postForm(ag.tokenEndpoint, fields);
        expectFailClosed(res, 400);
      }
    }
  });

  it('claims, headers, paths and bodies: accepted where they are only data, refused where they must be protocol', async () => {
    // Unicode in did / aid / id is data: the exchange works and the resource echoes it faithfully.
    const did = 'device-\u00e9\u4e2d\ud83d\udd12';
    const res = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await mint({ claims: { did, id: '05b\u4e2d', aid: '02i\u00e9' } }) });
    expect(res.status).toBe(200);
    const who = await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${res.json.access_token as string}` } });
    expect(who.json.did).toBe(did);
    // Unicode JSON at /ingestapi is data too.
    const ingest = await call(`${ag.url}/ingestapi`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ t: samples.join('') }),
    });
    expect(ingest.status).toBe(202);
    // Raw UTF-8 bytes in header values and paths.
    for (const u of samples.filter((s) => s !== '\u0000')) {
      const bytes = Buffer.from(u);
      const r1 = await rawRequest(ag.url, [Buffer.concat([Buffer.from('GET /resource HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer '), bytes, Buffer.from('\r\n\r\n')])]);
      expect([400, 401]).toContain(r1.status);
      const r2 = await rawRequest(ag.url, [Buffer.concat([Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: '), bytes, Buffer.from('\r\n\r\n')])]);
      expect([200, 400]).toContain(r2.status);
      if (r2.status === 200) expect(r2.headers['x-request-id']).toMatch(/^[A-Za-z0-9_-]{16}$/);
      const r3 = await rawRequest(ag.url, [Buffer.concat([Buffer.from('GET /'), bytes, Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')])]);
      expect([400, 404]).toContain(r3.status);
      expect(typeof r3.json.error).toBe('string');
    }
    // fetch would resolve %2e%2e itself; sent raw, the server must not.
    const encodedPath = await rawRequest(ag.url, [rawHead('GET', '/%E4%B8%AD%F0%9F%94%92/%2e%2e/resource', {})]);
    expectFailClosed(encodedPath, 404);
  });
});

describe('answers never leak', () => {
  it('every kind of answer carries the security headers and no server banner', async () => {
    const answers = [
      await call(`${ag.url}/healthz`),
      await call(`${ag.url}/readyz`),
      await call(`${ag.url}/nope`),
      await call(`${ag.url}/oauth2/token`),
      await call(`${ag.url}/oauth2/token`, { method: 'PUT' }),
      await call(`${ag.url}/resource`),
      await call(`${ag.url}/resource`, { headers: { authorization: 'Bearer x' } }),
      await token('x=1'),
      await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${accessToken}` } }),
    ];
    for (const res of answers) {
      expect(res.headers.get('server')).toBeNull();
      expect(res.headers.get('x-powered-by')).toBeNull();
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.text).not.toMatch(/\bat .*:\d+:\d+|node_modules|Error:/);
      expect(res.status).toBeLessThan(500);
    }
  });

  it('TRACE, OPTIONS and other methods get JSON, not an echo', async () => {
    for (const method of ['TRACE', 'OPTIONS', 'DELETE', 'PATCH', 'PUT']) {
      const res = await rawRequest(ag.url, [rawHead(method, '/oauth2/token', { Authorization: 'Bearer secret-should-not-echo' })]);
      if (method === 'OPTIONS') expect([200, 204]).toContain(res.status);
      else expectFailClosed(res, 405);
      expect(res.body).not.toContain('secret-should-not-echo');
    }
  });

  it('the server is still up and nothing answered 500', async () => {
    expect((await call(`${ag.url}/healthz`)).status).toBe(200);
    const statuses = ag.logs.map((l) => (JSON.parse(l) as { status?: number }).status).filter((s): s is number => s !== undefined);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });
});
