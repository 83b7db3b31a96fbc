import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { JWT_BEARER } from '../support/resource-servers.js';

/**
 * Attack: a body sent with a Content-Encoding. No body reader decodes one, so a coded body was
 * read as if plain: an event in an unknown coding was stored as its raw bytes (202), a gzip one
 * refused as "not valid JSON", a deflated form as a missing grant_type. RFC 9110 §8.4.1 / RFC 7694:
 * a coding the server does not apply is 415.
 */
let issuer: MockIssuer;
let ag: Harness;

beforeAll(async () => {
  issuer = await MockIssuer.start();
  ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url } });
});
afterAll(async () => {
  await ag.close();
  await issuer.close();
});

describe('request bodies with a content coding', () => {
  it('are refused with 415 at /ingestapi and the token endpoint; identity is plain', async () => {
    const r = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken(issuer, ag.tokenEndpoint) });
    const auth = { authorization: `Bearer ${r.json.access_token as string}` };
    const ingest = (encoding: string, body: string | Buffer) =>
      call(`${ag.url}/ingestapi`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', 'content-encoding': encoding }, body });
    for (const [encoding, body] of [['x-unknown', '{"t":1}'], ['gzip', gzipSync('{"t":1}')], ['GZIP, identity', gzipSync('{"t":1}')]] as const) {
      const res = await ingest(encoding, body);
      expect(res.status).toBe(415);
      expect(res.json.error).toBe('invalid_request');
    }
    const token = await call(ag.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'deflate' },
      body: 'grant_type=x',
    });
    expect(token.status).toBe(415);
    expect((await ingest('identity', '{"t":1}')).status).toBe(202);
    expect((await ingest('Identity', '{"t":1}')).status).toBe(202);
  });
});
