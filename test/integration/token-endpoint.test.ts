import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import { shortDigest } from '../../src/tokens/keys.js';
import { decodeRecord, IssuerDirectory, ResourceDirectory } from '../../src/tokens/record-codec.js';
import { startAssetgate, postForm, TestClock, type Harness } from '../support/harness.js';
import { assetToken, makeKey, MockIssuer, rawJws } from '../support/mock-issuer.js';
import { keysUnder } from '../support/redis.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

let issuer: MockIssuer;
let other: MockIssuer;
let ag: Harness;

beforeAll(async () => {
  issuer = await MockIssuer.start();
  other = await MockIssuer.start();
  ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, JWKS_COOLDOWN_SECONDS: '0', SUPPORTED_SCOPES: 'ingest read' } });
});
afterAll(async () => {
  await ag.close();
  await issuer.close();
  await other.close();
});

const mint = (o: Parameters<typeof assetToken>[2] = {}) => assetToken(issuer, ag.tokenEndpoint, o);
const exchange = (assertion: string, extra: Record<string, string> = {}) =>
  postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion, ...extra });

describe('POST /oauth2/token, jwt-bearer (RFC 7523)', () => {
  it('exchanges an asset token for an opaque access token, no-store, no challenge', async () => {
    const res = await exchange(await mint());
    expect(res.status).toBe(200);
    expect(res.json.token_type).toBe('Bearer');
    expect(typeof res.json.access_token).toBe('string');
    const token = res.json.access_token as string;
    expect(token.split('.')).toHaveLength(2); // opaque: not a JWT
    expect(token.split('.')[1]!.length).toBeGreaterThanOrEqual(43); // >= 256 bits of nanoid
    expect(res.json.expires_in).toBeGreaterThan(0);
    expect(res.json.expires_in).toBeLessThanOrEqual(3600);
    expect(res.json).not.toHaveProperty('issued_token_type');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    expect(res.headers.get('www-authenticate')).toBeNull();
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('stores only a hash of the access token, with the device claims and a TTL', async () => {
    const res = await exchange(await mint({ claims: { did: 'device-hash-check', aid: '02iASSET' } }));
    const token = res.json.access_token as string;
    const keys = await keysUnder(ag.redis!, ag.prefix);
    expect(keys.some((k) => k.includes(token))).toBe(false);
    const tokenKey = keys.find((k) => k.endsWith(`:at:${shortDigest(token)}`));
    expect(tokenKey).toBeDefined();
    const value = (await ag.redis!.get(tokenKey!))!;
    expect(value).not.toContain(token.split('.')[1]);
    expect(value).not.toContain(issuer.url); // a short issuer id instead (record-codec.ts)
    expect(decodeRecord(value, new IssuerDirectory([issuer.url], true), new ResourceDirectory(ag.url))).toMatchObject({ sub: 'device-hash-check', did: 'device-hash-check', aid: '02iASSET', iss: issuer.url });
    expect(decodeRecord(value, new IssuerDirectory(['https://someone-else.example'], true), new ResourceDirectory(ag.url))).toBeNull();
    const ttl = await ag.redis!.pttl(tokenKey!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3600_000);
  });

  it('caps expires_in at the assertion exp', async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await exchange(await mint({ claims: { exp: now + 120 } }));
    expect(res.status).toBe(200);
    expect(res.json.expires_in).toBeLessThanOrEqual(120);
    expect(res.json.expires_in).toBeGreaterThan(100);
  });

  it('accepts the form with charset and an unneeded client_id (RFC 6749 §3.2)', async () => {
    const res = await exchange(await mint(), { client_id: 'some-device-app' });
    expect(res.status).toBe(200);
  });

  it('grants a requested scope and records it', async () => {
    const res = await exchange(await mint(), { scope: 'ingest read' });
    expect(res.status).toBe(200);
    expect(res.json.scope).toBe('ingest read');
  });

  it('works with a strict client (oauth4webapi)', async () => {
    const as: oauth.AuthorizationServer = { issuer: ag.url, token_endpoint: ag.tokenEndpoint };
    const client: oauth.Client = { client_id: 'device' };
    const response = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), JWT_BEARER, new URLSearchParams({ assertion: await mint() }), {
      [oauth.allowInsecureRequests]: true,
    });
    const result = await oauth.processGenericTokenEndpointResponse(as, client, response);
    expect(result.token_type).toBe('bearer');
    expect(typeof result.access_token).toBe('string');
    expect(result.expires_in).toBeGreaterThan(0);
  });

  it('lets a strict client read OAuth errors (JSON 400, no challenge)', async () => {
    const as: oauth.AuthorizationServer = { issuer: ag.url, token_endpoint: ag.tokenEndpoint };
    const client: oauth.Client = { client_id: 'device' };
    const assertion = await mint();
    await exchange(assertion);
    const response = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), JWT_BEARER, new URLSearchParams({ assertion }), {
      [oauth.allowInsecureRequests]: true,
    });
    await expect(oauth.processGenericTokenEndpointResponse(as, client, response)).rejects.toMatchObject({
      error: 'invalid_grant',
      status: 400,
    });
  });
});

describe('POST /oauth2/token, token-exchange (RFC 8693)', () => {
  const tokenExchange = (fields: Record<string, string>) => postForm(ag.tokenEndpoint, { grant_type: TOKEN_EXCHANGE, ...fields });

  it('exchanges a subject token and names the issued token type', async () => {
    const res = await tokenExchange({
      subject_token: await mint(),
      subject_token_type: JWT_TYPE,
      requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    });
    expect(res.status).toBe(200);
    expect(res.json.issued_token_type).toBe('urn:ietf:params:oauth:token-type:access_token');
    expect(res.json.token_type).toBe('Bearer');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('works with oauth4webapi', async () => {
    const as: oauth.AuthorizationServer = { issuer: ag.url, token_endpoint: ag.tokenEndpoint };
    const client: oauth.Client = { client_id: 'device' };
    const response = await oauth.genericTokenEndpointRequest(
      as,
      client,
      oauth.None(),
      TOKEN_EXCHANGE,
      new URLSearchParams({ subject_token: await mint(), subject_token_type: JWT_TYPE }),
      { [oauth.allowInsecureRequests]: true },
    );
    const result = await oauth.processGenericTokenEndpointResponse(as, client, response);
    expect(result.issued_token_type).toBe('urn:ietf:params:oauth:token-type:access_token');
  });

  it.each([
    [{ subject_token_type: JWT_TYPE }, /subject_token/],
    [{ subject_token: 'x.y.z' }, /subject_token_type/],
    [{ subject_token: 'x.y.z', subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }, /subject_token_type/],
    [{ subject_token: 'x.y.z', subject_token_type: JWT_TYPE, requested_token_type: 'urn:ietf:params:oauth:token-type:id_token' }, /requested_token_type/],
  ])('rejects %j with invalid_request', async (fields, message) => {
    const res = await tokenExchange(fields);
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_request');
    expect(String(res.json.error_description)).toMatch(message);
  });

  it('answers invalid_request for an unacceptable subject token (§2.2.2)', async () => {
    const res = await tokenExchange({ subject_token: await mint({ claims: { aud: ['https://elsewhere'] } }), subject_token_type: JWT_TYPE });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_request');
  });

  it('shares single use with jwt-bearer', async () => {
    const assertion = await mint();
    expect((await exchange(assertion)).status).toBe(200);
    const res = await tokenExchange({ subject_token: assertion, subject_token_type: JWT_TYPE });
    expect(res.status).toBe(400);
    expect(res.json.error_description).toMatch(/already been used/);
  });
});

describe('request errors', () => {
  it('rejects a missing grant_type, an unknown one, a repeated parameter, a missing assertion', async () => {
    const missing = await postForm(ag.tokenEndpoint, { assertion: 'x' });
    expect([missing.status, missing.json.error]).toEqual([400, 'invalid_request']);
    const unknown = await postForm(ag.tokenEndpoint, { grant_type: 'password' });
    expect([unknown.status, unknown.json.error]).toEqual([400, 'unsupported_grant_type']);
    const noAssertion = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER });
    expect([noAssertion.status, noAssertion.json.error]).toEqual([400, 'invalid_request']);
    const repeated = await fetch(ag.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=a&assertion=b`,
    });
    expect(repeated.status).toBe(400);
    expect(((await repeated.json()) as { error: string }).error).toBe('invalid_request');
    expect(repeated.headers.get('www-authenticate')).toBeNull();
  });

  it('rejects a JSON body and an oversized body with RFC-shaped errors', async () => {
    const json = await fetch(ag.tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { error: string }).error).toBe('invalid_request');
    const big = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: 'a'.repeat(70 * 1024) });
    expect(big.status).toBe(413);
    expect(big.json.error).toBe('invalid_request');
  });

  it('rejects a malformed scope and answers 404 / 405 as JSON', async () => {
    const res = await exchange(await mint(), { scope: 'bad"scope' });
    expect([res.status, res.json.error]).toEqual([400, 'invalid_scope']);
    const nf = await fetch(`${ag.url}/nope`);
    expect(nf.status).toBe(404);
    expect(((await nf.json()) as { error: string }).error).toBe('not_found');
    const get = await fetch(ag.tokenEndpoint);
    expect(get.status).toBe(405);
  });
});

describe('assertion validation (RFC 7519 §7.2, RFC 7523 §3, RFC 8725)', () => {
  const expectInvalidGrant = async (assertion: string, description?: RegExp) => {
    const res = await exchange(assertion);
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_grant');
    expect(res.headers.get('www-authenticate')).toBeNull();
    if (description) expect(String(res.json.error_description)).toMatch(description);
    return res;
  };
  const now = () => Math.floor(Date.now() / 1000);

  it('rejects an untrusted issuer without fetching anything from it', async () => {
    const before = other.requests;
    await expectInvalidGrant(await assetToken(other, ag.tokenEndpoint), /issuer is not trusted/);
    expect(other.requests).toBe(before);
  });

  it('requires iss to match exactly (no trailing slash, no case folding)', async () => {
    await expectInvalidGrant(await mint({ claims: { iss: `${issuer.url}/` } }), /issuer/);
    await expectInvalidGrant(await mint({ claims: { iss: issuer.url.toUpperCase() } }), /issuer/);
  });

  it('requires an accepted audience, string or array, exact', async () => {
    await expectInvalidGrant(await mint({ claims: { aud: ['https://other.example'] } }), /audience/);
    await expectInvalidGrant(await mint({ claims: { aud: `${ag.tokenEndpoint}x` } }), /audience/);
    await expectInvalidGrant(await mint({ claims: { aud: undefined } }), /audience/);
    expect((await exchange(await mint({ claims: { aud: ag.url } }))).status).toBe(200);
    expect((await exchange(await mint({ claims: { aud: ['https://x', ag.tokenEndpoint] } }))).status).toBe(200);
  });

  it('requires exp, and rejects it once past the skew', async () => {
    await expectInvalidGrant(await mint({ claims: { exp: undefined } }), /exp/);
    await expectInvalidGrant(await mint({ claims: { exp: now() - 31 } }), /expired/);
    expect((await exchange(await mint({ claims: { exp: now() - 10 } }))).status).toBe(200);
    await expectInvalidGrant(await mint({ claims: { exp: String(now() + 100) } }));
  });

  it('honours nbf and iat with skew', async () => {
    await expectInvalidGrant(await mint({ claims: { nbf: now() + 120 } }), /not yet valid/);
    expect((await exchange(await mint({ claims: { nbf: now() + 10 } }))).status).toBe(200);
    await expectInvalidGrant(await mint({ claims: { iat: now() + 120 } }), /iat/);
  });

  it('refuses an exp beyond the maximum assertion lifetime', async () => {
    await expectInvalidGrant(await mint({ claims: { exp: now() + 400 * 86400 } }), /too far/);
  });

  it('takes did as the subject, or sub when there is no did, and needs one of them', async () => {
    const withSub = await exchange(await mint({ claims: { did: undefined, sub: 'user-1' } }));
    expect(withSub.status).toBe(200);
    await expectInvalidGrant(await mint({ claims: { did: undefined } }), /subject/);
  });

  it('requires a single-use id (jti or id)', async () => {
    await expectInvalidGrant(await mint({ claims: { id: undefined } }), /jti/);
    expect((await exchange(await mint({ claims: { id: undefined, jti: 'jti-1-' + now() } }))).status).toBe(200);
  });

  it('rejects alg none and HS256 signed with the public key', async () => {
    const payload = { iss: issuer.url, aud: [ag.tokenEndpoint], exp: now() + 60, did: 'd', id: 'x1' };
    for (const alg of ['none', 'None', 'NONE']) {
      await expectInvalidGrant(rawJws({ alg, typ: 'JWT', kid: issuer.keys[0]!.kid }, payload), /algorithm|well-formed/);
    }
    const secret = new TextEncoder().encode(JSON.stringify(issuer.keys[0]!.publicJwk));
    const hs = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: issuer.keys[0]!.kid }).sign(secret);
    await expectInvalidGrant(hs, /algorithm/);
  });

  it('rejects a wrong typ, a bad signature, an unknown kid, JWE and wrong segment counts', async () => {
    await expectInvalidGrant(await mint({ header: { typ: 'at+jwt' } }), /typ/);
    const good = await mint();
    const [h, p] = good.split('.');
    const forged = await mint({ claims: { did: 'someone-else' } });
    await expectInvalidGrant(`${h}.${forged.split('.')[1]}.${good.split('.')[2]}`, /signature/);
    await expectInvalidGrant(await mint({ header: { kid: 'nope' } }), /key/);
    await expectInvalidGrant(`${h}.${p}`, /compact JWS/);
    await expectInvalidGrant(`${h}.${p}.a.b.c`, /encrypted/);
    await expectInvalidGrant('not a jwt', /compact JWS/);
  });

  it('never follows jku, x5u or an embedded jwk', async () => {
    const attacker = await MockIssuer.start();
    const evilKey = attacker.keys[0]!;
    const before = attacker.requests;
    const withJku = await assetToken(issuer, ag.tokenEndpoint, {
      key: { ...evilKey, kid: issuer.keys[0]!.kid },
      header: { jku: `${attacker.url}/id/keys`, x5u: `${attacker.url}/id/keys`, jwk: evilKey.publicJwk },
    });
    await expectInvalidGrant(withJku, /signature/);
    expect(attacker.requests).toBe(before);
    await attacker.close();
  });

  it('refuses a key of the wrong family for the alg (RFC 8725 §3.1)', async () => {
    const ec = await makeKey('ec-1', 'ES256');
    issuer.keys.push(ec);
    try {
      await expectInvalidGrant(await mint({ key: ec }), /algorithm/); // ES256 not on the allow-list
      await expectInvalidGrant(await mint({ key: { ...issuer.keys[0]!, kid: 'ec-1' } }), /key/); // RS256 header naming an EC key
    } finally {
      issuer.keys.pop();
    }
  });

  it('blocks replay: 50 concurrent exchanges of one asset token, exactly one wins', async () => {
    const assertion = await mint();
    const results = await Promise.all(Array.from({ length: 50 }, () => exchange(assertion)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    const losers = results.filter((r) => r.status !== 200);
    expect(losers).toHaveLength(49);
    for (const r of losers) expect(r.json.error).toBe('invalid_grant');
  });
});

describe('JWKS handling', () => {
  it('picks up a rotated key without a restart (unknown kid triggers one refetch)', async () => {
    const old = issuer.keys[0]!;
    const fresh = await issuer.rotate(false);
    const before = issuer.requests;
    expect((await exchange(await mint({ key: fresh }))).status).toBe(200);
    expect(issuer.requests).toBe(before + 1);
    issuer.keys = [old];
  });

  it('keeps working from cached keys while the JWKS endpoint is down', async () => {
    issuer.mode = 'fail';
    try {
      expect((await exchange(await mint())).status).toBe(200);
      // An unknown kid could be a rotation we cannot see while the endpoint is down: retryable.
      const res = await exchange(await mint({ header: { kid: 'unknown-during-outage' } }));
      expect(res.status).toBe(503);
      expect(res.json.error).toBe('temporarily_unavailable');
    } finally {
      issuer.mode = 'ok';
    }
  });

  it('answers 503 temporarily_unavailable when no key can be had (cold cache, endpoint down)', async () => {
    const cold = await MockIssuer.start();
    cold.mode = 'fail';
    const h = await startAssetgate({ env: { TRUSTED_ISSUERS: cold.url } });
    try {
      const res = await postForm(h.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken(cold, h.tokenEndpoint) });
      expect(res.status).toBe(503);
      expect(res.json.error).toBe('temporarily_unavailable');
      expect(res.headers.get('retry-after')).toBeTruthy();
      cold.mode = 'ok';
      await new Promise((r) => setTimeout(r, 1100));
      const assertion = await assetToken(cold, h.tokenEndpoint);
      expect((await postForm(h.tokenEndpoint, { grant_type: JWT_BEARER, assertion })).status).toBe(200);
    } finally {
      await h.close();
      await cold.close();
    }
  });

  it('refetches an unknown kid at most once per cooldown', async () => {
    const iss = await MockIssuer.start();
    const clock = new TestClock();
    const h = await startAssetgate({ env: { TRUSTED_ISSUERS: iss.url, JWKS_COOLDOWN_SECONDS: '30' }, clock });
    try {
      const afterWarm = iss.requests;
      for (let i = 0; i < 5; i++) {
        const res = await postForm(h.tokenEndpoint, {
          grant_type: JWT_BEARER,
          assertion: await assetToken(iss, h.tokenEndpoint, { header: { kid: `random-${i}` } }),
        });
        expect(res.json.error).toBe('invalid_grant');
      }
      expect(iss.requests - afterWarm).toBe(0); // the warm-up fetch is within the cooldown
      clock.advance(31);
      await postForm(h.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken(iss, h.tokenEndpoint, { header: { kid: 'again' }, nowSeconds: Math.floor(clock.now() / 1000) }) });
      expect(iss.requests - afterWarm).toBe(1);
    } finally {
      await h.close();
      await iss.close();
    }
  });
});
