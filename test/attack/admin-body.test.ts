import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { JWT_BEARER } from '../support/resource-servers.js';

/**
 * Attack on the admin API with two trusted issuers: a body naming `iss` twice. JSON.parse keeps
 * the last member, a proxy or review tool in front may read the first (RFC 8259 §4: names SHOULD be
 * unique, and parsers differ): a revocation checked for one tenant would then land on another's device.
 */
const ADMIN_KEY = 'admin-key-0123456789abcdef';
let a: MockIssuer;
let b: MockIssuer;
let ag: Harness;

beforeAll(async () => {
  a = await MockIssuer.start();
  b = await MockIssuer.start();
  ag = await startAssetgate({ env: { TRUSTED_ISSUERS: `${a.url},${b.url}`, ADMIN_API_KEY: ADMIN_KEY } });
});
afterAll(async () => {
  await ag.close();
  await a.close();
  await b.close();
});

const session = async (issuer: MockIssuer, did: string): Promise<string> => {
  const r = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken(issuer, ag.tokenEndpoint, { claims: { did } }) });
  expect(r.status).toBe(200);
  return r.json.access_token as string;
};
const revoke = (did: string, body: string) =>
  call(`${ag.url}/admin/devices/${did}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body });
const resource = async (token: string) => (await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${token}` } })).status;

describe('admin revocation body with a member named twice', () => {
  it('is refused with 400 invalid_request, and neither tenant\'s device is revoked', async () => {
    const ofA = await session(a, 'device-twice');
    const ofB = await session(b, 'device-twice');
    for (const body of [`{"iss":"${a.url}","iss":"${b.url}"}`, `{"iss":"${a.url}","\\u0069ss":"${b.url}"}`, `{"iss":"${a.url}","block_asset_tokens_issued_before":"none","block_asset_tokens_issued_before":"now"}`]) {
      const res = await revoke('device-twice', body);
      expect(res.status).toBe(400);
      expect(res.json.error).toBe('invalid_request');
    }
    expect(await resource(ofA)).toBe(200);
    expect(await resource(ofB)).toBe(200);
    // The same revocation with each member once goes through.
    expect((await revoke('device-twice', `{"iss":"${b.url}"}`)).status).toBe(200);
    expect(await resource(ofB)).toBe(401);
    expect(await resource(ofA)).toBe(200);
  });
});

describe('admin revocation path', () => {
  it('refuses a device id that is not percent-encoded UTF-8, instead of revoking a device spelled with its escapes', async () => {
    const literal = await session(a, '%ED%A0%80');
    const percent = await session(a, '%');
    for (const did of ['%ED%A0%80', '%', '%E0%A4%A', '%zz']) {
      const res = await revoke(did, `{"iss":"${a.url}"}`);
      expect({ did, status: res.status, error: res.json.error }).toEqual({ did, status: 400, error: 'invalid_request' });
    }
    expect(await resource(literal)).toBe(200);
    expect(await resource(percent)).toBe(200);
    // Spelled as its escapes, each of those devices is revoked like any other.
    expect((await revoke(encodeURIComponent('%ED%A0%80'), `{"iss":"${a.url}"}`)).status).toBe(200);
    expect((await revoke('%25', `{"iss":"${a.url}"}`)).status).toBe(200);
    expect(await resource(literal)).toBe(401);
    expect(await resource(percent)).toBe(401);
  });
});
