import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oauth from 'oauth4webapi';
import { postForm, startAssetgate, TestClock, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { basic, INTROSPECTION_CLIENTS, introspect, ODD, RS, rsAuth, sessionFor } from '../support/resource-servers.js';

let issuer: MockIssuer;
let ag: Harness;
const clock = new TestClock();

beforeAll(async () => {
  issuer = await MockIssuer.start();
  ag = await startAssetgate({ clock, env: { TRUSTED_ISSUERS: issuer.url, INTROSPECTION_CLIENTS, LOG_LEVEL: 'debug', SUPPORTED_SCOPES: 'ingest read' } });
});
afterAll(async () => {
  await ag.close();
  await issuer.close();
});

const nowSeconds = () => Math.floor(clock.now() / 1000);

describe('POST /oauth2/introspect (RFC 7662)', () => {
  it('describes an active token: the RFC 7662 members and the device claims, nothing else', async () => {
    const token = await sessionFor(ag, issuer, { nowSeconds: nowSeconds(), claims: { did: 'dev-intro-1', aid: '02iINTRO' } }, { scope: 'ingest read' });
    const res = await introspect(ag, token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('www-authenticate')).toBeNull();
    expect(res.json).toEqual({
      active: true,
      token_type: 'Bearer',
      exp: expect.any(Number),
      iat: expect.any(Number),
      iss: ag.url,
      sub: 'dev-intro-1',
      did: 'dev-intro-1',
      aid: '02iINTRO',
      scope: 'ingest read',
      aud: [ag.url],
      asset_token_issuer: issuer.url,
    });
    expect(res.json.iat).toBe(nowSeconds());
    expect(res.json.exp).toBe(nowSeconds() + 600 - 0); // capped at the asset token's exp (now + 600)
  });

  it('omits what the token does not carry (no did: sub only; no scope)', async () => {
    const token = await sessionFor(ag, issuer, { nowSeconds: nowSeconds(), claims: { did: undefined, aid: undefined, sub: 'generic-subject' } });
    const res = await introspect(ag, token);
    expect(res.json).toEqual({
      active: true,
      token_type: 'Bearer',
      exp: expect.any(Number),
      iat: expect.any(Number),
      iss: ag.url,
      sub: 'generic-subject',
      aud: [ag.url],
      asset_token_issuer: issuer.url,
    });
  });

  it('answers {"active":false} and nothing more for unknown, malformed, asset-token and expired tokens', async () => {
    const expiring = await sessionFor(ag, issuer, { nowSeconds: nowSeconds() });
    const jwt = await assetToken(issuer, ag.tokenEndpoint, { nowSeconds: nowSeconds() });
    const cases = ['AAAAAAAAAAAA.' + 'B'.repeat(43), 'not a token at all', 'x'.repeat(5000), jwt, `${expiring}x`];
    for (const token of cases) {
      const res = await introspect(ag, token);
      expect({ token: token.slice(0, 20), status: res.status, body: res.text }).toEqual({ token: token.slice(0, 20), status: 200, body: '{"active":false}' });
    }
    // The asset token was not consumed by being introspected.
    expect((await postForm(ag.tokenEndpoint, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: jwt })).status).toBe(200);

    expect((await introspect(ag, expiring)).json.active).toBe(true);
    clock.advance(601);
    try {
      expect((await introspect(ag, expiring)).text).toBe('{"active":false}');
    } finally {
      clock.advance(-601);
    }
  });

  it('ignores token_type_hint, right or wrong', async () => {
    const token = await sessionFor(ag, issuer, { nowSeconds: nowSeconds() });
    for (const hint of ['access_token', 'refresh_token', 'something_else']) {
      expect((await introspect(ag, token, rsAuth, { token_type_hint: hint })).json.active).toBe(true);
    }
  });

  it('requires the token parameter (invalid_request) and a form body', async () => {
    const missing = await postForm(`${ag.url}/oauth2/introspect`, {}, rsAuth);
    expect(missing.status).toBe(400);
    expect(missing.json.error).toBe('invalid_request');
    const json = await fetch(`${ag.url}/oauth2/introspect`, { method: 'POST', headers: { ...rsAuth, 'content-type': 'application/json' }, body: '{"token":"x"}' });
    expect(json.status).toBe(400);
    const repeated = await fetch(`${ag.url}/oauth2/introspect`, {
      method: 'POST',
      headers: { ...rsAuth, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=a&token=b',
    });
    expect(repeated.status).toBe(400);
  });
});

describe('client authentication (RFC 6749 §2.3.1)', () => {
  let token: string;
  beforeAll(async () => {
    token = await sessionFor(ag, issuer, { nowSeconds: nowSeconds() });
  });

  const expectInvalidClient = (res: Awaited<ReturnType<typeof introspect>>) => {
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('invalid_client');
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="assetgate"');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.json).not.toHaveProperty('active');
  };

  it('refuses missing credentials, a wrong secret, a wrong id, and a secret of another client', async () => {
    expectInvalidClient(await introspect(ag, token, {}));
    expectInvalidClient(await introspect(ag, token, { authorization: basic(RS.id, `${RS.secret}x`) }));
    expectInvalidClient(await introspect(ag, token, { authorization: basic(RS.id, RS.secret.slice(0, -1)) }));
    expectInvalidClient(await introspect(ag, token, { authorization: basic(RS.id, '') }));
    expectInvalidClient(await introspect(ag, token, { authorization: basic('rs-unknown', RS.secret) }));
    expectInvalidClient(await introspect(ag, token, { authorization: basic(ODD.id, RS.secret) }));
  });

  it('refuses malformed Basic headers and other schemes with invalid_client', async () => {
    for (const authorization of ['Basic', 'Basic !!!!', `Basic ${Buffer.from('no-colon').toString('base64')}`, `Basic ${Buffer.from('a%ZZ:b').toString('base64')}`, `Bearer ${token}`]) {
      expectInvalidClient(await introspect(ag, token, { authorization }));
    }
  });

  it('decodes form-urlencoded Basic credentials (my%2Dclient, reserved characters in the secret)', async () => {
    const res = await introspect(ag, token, { authorization: basic(ODD.id, ODD.secret) });
    expect(res.status).toBe(200);
    expect(res.json.active).toBe(true);
    // Sent without the encoding, "+" and "%" in the secret decode to something else: refused.
    expectInvalidClient(await introspect(ag, token, { authorization: basic(ODD.id, ODD.secret, false) }));
    // An id needing no encoding works plain too.
    expect((await introspect(ag, token, { authorization: basic(RS.id, RS.secret, false) })).status).toBe(200);
  });

  it('accepts client_secret_post, and refuses two methods at once', async () => {
    const post = await introspect(ag, token, {}, { client_id: ODD.id, client_secret: ODD.secret });
    expect(post.status).toBe(200);
    expect(post.json.active).toBe(true);
    expectInvalidClient(await introspect(ag, token, {}, { client_id: ODD.id, client_secret: 'wrong-secret-0123456789' }));
    const both = await introspect(ag, token, rsAuth, { client_id: RS.id, client_secret: RS.secret });
    expect(both.status).toBe(400);
    expect(both.json.error).toBe('invalid_request');
    const mismatch = await introspect(ag, token, rsAuth, { client_id: ODD.id });
    expect(mismatch.status).toBe(400);
  });

  it('never writes secrets, credentials or tokens to the logs', async () => {
    const before = ag.logs.length;
    await introspect(ag, token, { authorization: basic(RS.id, 'a-wrong-secret-value-42') });
    await introspect(ag, token, {}, { client_id: ODD.id, client_secret: 'another-wrong-secret-43' });
    await introspect(ag, token);
    const written = ag.logs.slice(before).join('\n');
    expect(written).toContain('invalid_client');
    for (const secret of ['a-wrong-secret-value-42', 'another-wrong-secret-43', RS.secret, token, rsAuth.authorization.slice(6)]) {
      expect(written).not.toContain(secret);
    }
  });

  it('works with a strict client (oauth4webapi introspectionRequest / processIntrospectionResponse)', async () => {
    const as: oauth.AuthorizationServer = { issuer: ag.url, introspection_endpoint: `${ag.url}/oauth2/introspect` };
    const client: oauth.Client = { client_id: ODD.id };
    const response = await oauth.introspectionRequest(as, client, oauth.ClientSecretBasic(ODD.secret), token, { [oauth.allowInsecureRequests]: true });
    const result = await oauth.processIntrospectionResponse(as, client, response);
    expect(result.active).toBe(true);
    expect(result.sub).toBe(result.did);
    expect(result.token_type).toBe('Bearer');

    const viaPost = await oauth.introspectionRequest(as, client, oauth.ClientSecretPost(ODD.secret), 'unknown', { [oauth.allowInsecureRequests]: true });
    expect(await oauth.processIntrospectionResponse(as, client, viaPost)).toEqual({ active: false });

    const wrong = await oauth.introspectionRequest(as, client, oauth.ClientSecretBasic('wrong-secret-0123456789'), token, { [oauth.allowInsecureRequests]: true });
    // A 401 with a well-formed Basic challenge: the strict client surfaces it as a challenge.
    await expect(oauth.processIntrospectionResponse(as, client, wrong)).rejects.toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
  });
});
