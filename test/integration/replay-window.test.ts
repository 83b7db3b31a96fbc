import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { postForm, startAssetgate, TestClock, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { JWT_BEARER } from '../support/resource-servers.js';

/**
 * A NumericDate may carry a fraction (RFC 7519 §2). The claims check compares exp with the clock in
 * whole seconds, so a token whose exp + skew is 40.5 s ahead still verifies until the 41st second:
 * its single-use mark must last until then too, or a replay in the last half second wins a session.
 */
let issuer: MockIssuer;
let ag: Harness;
const clock = new TestClock(Math.floor(Date.now() / 1000) * 1000); // on a whole second

beforeAll(async () => {
  issuer = await MockIssuer.start();
  ag = await startAssetgate({ store: 'memory', clock, env: { TRUSTED_ISSUERS: issuer.url, CLOCK_SKEW_SECONDS: '30' } });
});
afterAll(async () => {
  await ag.close();
  await issuer.close();
});

describe('a fractional exp', () => {
  it('keeps the single-use mark for every instant at which the asset token still verifies', async () => {
    const nowSeconds = clock.now() / 1000;
    const assertion = await assetToken(issuer, ag.tokenEndpoint, { nowSeconds, claims: { exp: nowSeconds + 10.5 } });
    expect((await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion })).status).toBe(200);
    clock.advance(40.6); // past exp + skew exactly, still within the whole second the check rounds to
    const replay = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion });
    expect(replay.status).toBe(400);
    expect(replay.json.error_description).toMatch(/already been used/);
    clock.advance(0.5); // the 41st second: now it is expired, and says so
    expect((await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion })).json.error_description).toMatch(/expired/);
  });
});
