import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ConfigLayer } from '../../src/config.js';
import { postForm, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, makeKey, MockIssuer } from '../support/mock-issuer.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

let salesforce: MockIssuer;
/** The generic issuer's identifier host publishes no keys; its keys live at a jwks_url elsewhere. */
let genericHost: MockIssuer;
let keyHost: MockIssuer;
let generic: { url: string; keys: MockIssuer['keys'] };
let plain: MockIssuer;
let ag: Harness;

beforeAll(async () => {
  salesforce = await MockIssuer.start();
  genericHost = await MockIssuer.start(0);
  keyHost = await MockIssuer.start(0);
  keyHost.keys.push(await makeKey('ec-1', 'ES256'));
  generic = { url: genericHost.url, keys: keyHost.keys };
  plain = await MockIssuer.start();
  const layer: ConfigLayer = {
    source: 'test.yaml',
    settings: {},
    introspectionClients: [],
    resourceServers: [],
    issuers: [
      { issuer: salesforce.url, audiences: ['https://devices.example.com'], allowedAssetIds: ['02iALLOWED1', '02iALLOWED2'] },
      { issuer: generic.url, profile: 'generic-jwt', algorithms: ['ES256'], jwksUrl: `${keyHost.url}/id/keys` },
      { issuer: plain.url },
    ],
  };
  ag = await startAssetgate({ layer, env: { JWKS_COOLDOWN_SECONDS: '0' } });
});
afterAll(async () => {
  await ag.close();
  await Promise.all([salesforce.close(), genericHost.close(), keyHost.close(), plain.close()]);
});

const exchange = async (assertion: string) => postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion });

describe('per-issuer settings from the configuration file', () => {
  it('honours an issuer\'s own audiences, and only those', async () => {
    const ok = await exchange(await assetToken(salesforce, 'https://devices.example.com', { claims: { aid: '02iALLOWED1' } }));
    expect(ok.status).toBe(200);
    const serverWide = await exchange(await assetToken(salesforce, ag.tokenEndpoint, { claims: { aid: '02iALLOWED1' } }));
    expect(serverWide.status).toBe(400);
    expect(serverWide.json.error_description).toMatch(/audience/);
    // An issuer without its own audiences keeps the server-wide ones.
    expect((await exchange(await assetToken(plain, ag.tokenEndpoint))).status).toBe(200);
    expect((await exchange(await assetToken(plain, 'https://devices.example.com'))).status).toBe(400);
  });

  it('accepts only the allowed asset ids of an issuer that lists them', async () => {
    const other = await exchange(await assetToken(salesforce, 'https://devices.example.com', { claims: { aid: '02iSOMEOTHER' } }));
    expect(other.status).toBe(400);
    expect(other.json).toEqual({ error: 'invalid_grant', error_description: 'assertion names an asset this server does not accept' });
    const none = await exchange(await assetToken(salesforce, 'https://devices.example.com', { claims: { aid: undefined } }));
    expect(none.status).toBe(400);
    // At the resource (bearer sequence) too.
    const res = await fetch(`${ag.url}/resource`, {
      headers: { authorization: `Bearer ${await assetToken(salesforce, 'https://devices.example.com', { claims: { aid: '02iSOMEOTHER' } })}` },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  it('fetches an issuer\'s keys from its jwks_url override, never from {issuer}/id/keys', async () => {
    const before = genericHost.requests;
    const res = await exchange(await assetToken(generic, ag.tokenEndpoint, { claims: { sub: 'user-0' } }));
    expect(res.status).toBe(200);
    expect(keyHost.requests).toBeGreaterThan(0);
    expect(genericHost.requests).toBe(before);
  });

  it('applies the generic-jwt profile: sub is required and is the subject, even beside a did', async () => {
    const withSub = await exchange(await assetToken(generic, ag.tokenEndpoint, { claims: { sub: 'user-42', did: 'device-9' } }));
    expect(withSub.status).toBe(200);
    const who = await fetch(`${ag.url}/resource`, { headers: { authorization: `Bearer ${withSub.json.access_token as string}` } });
    expect(((await who.json()) as { sub: string }).sub).toBe('user-42');
    const noSub = await exchange(await assetToken(generic, ag.tokenEndpoint, { claims: { did: 'device-9' } }));
    expect(noSub.status).toBe(400);
    expect(noSub.json.error_description).toBe('assertion has no sub');
  });

  it('keeps the salesforce-asset-token profile for the others: did is the subject', async () => {
    const res = await exchange(await assetToken(plain, ag.tokenEndpoint, { claims: { did: 'device-7', sub: 'someone' } }));
    const who = await fetch(`${ag.url}/resource`, { headers: { authorization: `Bearer ${res.json.access_token as string}` } });
    expect(((await who.json()) as { sub: string }).sub).toBe('device-7');
  });

  it('honours an issuer\'s own algorithms', async () => {
    // RS256 is the server-wide default, but this issuer accepts ES256 only.
    const rsKey = await makeKey('rs-1', 'RS256');
    keyHost.keys.push(rsKey);
    const rs = await exchange(await assetToken(generic, ag.tokenEndpoint, { key: rsKey, claims: { sub: 'user-1' } }));
    expect(rs.status).toBe(400);
    expect(rs.json.error_description).toBe('assertion algorithm is not allowed');
  });
});
