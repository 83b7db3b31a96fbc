import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { uniquePrefix } from '../support/redis.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

let issuer: MockIssuer;
let a: Harness;
let b: Harness;

beforeAll(async () => {
  issuer = await MockIssuer.start();
  const prefix = uniquePrefix();
  // Both instances accept tokens addressed to a shared audience, as behind one load balancer.
  const env = { TRUSTED_ISSUERS: issuer.url, TOKEN_AUDIENCES: 'https://assetgate.example' };
  a = await startAssetgate({ prefix, env });
  b = await startAssetgate({ prefix, env });
});
afterAll(async () => {
  await a.close();
  await b.close();
  await issuer.close();
});

describe('two instances on one Redis', () => {
  const mint = () => assetToken(issuer, 'https://assetgate.example');

  it('accepts on B a token minted on A', async () => {
    const res = await postForm(a.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await mint() });
    expect(res.status).toBe(200);
    const onB = await call(`${b.url}/resource`, { headers: { authorization: `Bearer ${String(res.json.access_token)}` } });
    expect(onB.status).toBe(200);
  });

  it('refuses on B an asset token already exchanged on A', async () => {
    const assertion = await mint();
    expect((await postForm(a.tokenEndpoint, { grant_type: JWT_BEARER, assertion })).status).toBe(200);
    const onB = await postForm(b.tokenEndpoint, { grant_type: JWT_BEARER, assertion });
    expect(onB.json.error).toBe('invalid_grant');
  });

  it('enforces a device-wide revocation made through one instance on the other at once', async () => {
    const res = await postForm(a.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken(issuer, 'https://assetgate.example', { claims: { did: 'dev-2i' } }) });
    const token = String(res.json.access_token);
    expect((await call(`${a.url}/resource`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    await b.runtime.deps.store.revokeDevice({ iss: issuer.url, subject: 'dev-2i' }, Date.now());
    const onA = await call(`${a.url}/resource`, { headers: { authorization: `Bearer ${token}` } });
    expect(onA.status).toBe(401);
    expect(onA.json.error).toBe('invalid_token');
  });
});
