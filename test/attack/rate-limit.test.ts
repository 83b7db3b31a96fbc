import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { nanoid } from 'nanoid';
import { startAssetgate, TestClock, type Harness } from '../support/harness.js';
import { assetToken, makeKey, MockIssuer } from '../support/mock-issuer.js';
import { keysUnder } from '../support/redis.js';
import { formFrom, requestFrom } from '../support/attack.js';
import { deviceKey, dpopProof } from '../support/dpop.js';

/**
 * Failed-exchange limits (rate-limiter-flexible): per client IP and per verified device, 429 with
 * Retry-After and an RFC-shaped body; honest devices keep getting through while an attacker is
 * held back. Clients are told apart by loopback source address (127.0.0.x).
 */
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const PER_IP = 5;
const PER_DEVICE = 3;

let issuer: MockIssuer;
const started: Harness[] = [];

beforeAll(async () => {
  issuer = await MockIssuer.start();
});
afterAll(async () => {
  for (const h of started) await h.close();
  await issuer.close();
});

async function start(env: Record<string, string> = {}, store: 'redis' | 'memory' = 'redis', clock?: TestClock): Promise<Harness> {
  const h = await startAssetgate({
    store,
    ...(clock ? { clock } : {}),
    env: {
      TRUSTED_ISSUERS: issuer.url,
      RATE_LIMIT_FAILED_PER_IP: String(PER_IP),
      RATE_LIMIT_FAILED_PER_DEVICE: String(PER_DEVICE),
      RATE_LIMIT_WINDOW_SECONDS: '60',
      ...env,
    },
  });
  started.push(h);
  return h;
}

const mintFor = (ag: Harness, claims: Record<string, unknown> = {}) => assetToken(issuer, ag.tokenEndpoint, { claims });
const exchange = (ag: Harness, ip: string, assertion: string) => formFrom(ip, ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion });
const exchangeWithProof = (ag: Harness, ip: string, assertion: string, proof: string) =>
  requestFrom(ip, ag.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof },
    body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString(),
  });
/** The bearer sequence with the DPoP scheme: the asset token is the credential, the proof covers it (ath). */
const resourceWithProof = (ag: Harness, ip: string, asset: string, proof: string) =>
  requestFrom(ip, `${ag.url}/resource`, { headers: { authorization: `DPoP ${asset}`, dpop: proof } });

function expectLimited(res: { status: number; headers: Record<string, string>; json: Record<string, unknown> }): void {
  expect(res.status).toBe(429);
  expect(res.json.error).toBe('temporarily_unavailable');
  expect(typeof res.json.error_description).toBe('string');
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['cache-control']).toBe('no-store');
}

describe('per client IP (Redis)', () => {
  let ag: Harness;
  beforeAll(async () => {
    ag = await start();
  });

  it('holds an attacker back after the limit while honest devices on other addresses get through', async () => {
    const attacker = '127.0.0.2';
    const honest = ['127.0.0.3', '127.0.0.4'];
    for (let i = 0; i < PER_IP; i++) {
      expect((await exchange(ag, attacker, `garbage.${i}.x`)).status).toBe(400);
      // Honest devices interleaved with the attack are never slowed down.
      expect((await exchange(ag, honest[i % 2]!, await mintFor(ag))).status).toBe(200);
    }
    for (let i = 0; i < 20; i++) expectLimited(await exchange(ag, attacker, `garbage.more${i}.x`));
    // Even a valid token is refused from the limited address, and it is not consumed by that.
    const valid = await mintFor(ag);
    expectLimited(await exchange(ag, attacker, valid));
    expect((await exchange(ag, honest[0]!, valid)).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await exchange(ag, honest[1]!, await mintFor(ag))).status).toBe(200);
  });

  it('counts bearer-sequence failures too (asset tokens at /resource)', async () => {
    const ip = '127.0.0.5';
    for (let i = 0; i < PER_IP; i++) {
      const res = await requestFrom(ip, `${ag.url}/resource`, { headers: { authorization: `Bearer forged.${i}.sig` } });
      expect(res.status).toBe(401);
    }
    expectLimited(await requestFrom(ip, `${ag.url}/resource`, { headers: { authorization: `Bearer ${await mintFor(ag)}` } }));
    expect((await requestFrom('127.0.0.6', `${ag.url}/resource`, { headers: { authorization: `Bearer ${await mintFor(ag)}` } })).status).toBe(200);
  });

  it('keeps the counters in Redis under the key prefix, with a TTL', async () => {
    const keys = (await keysUnder(ag.redis!, ag.prefix)).filter((k) => k.includes('rl:ip'));
    expect(keys.some((k) => k.endsWith('127.0.0.2'))).toBe(true);
    for (const k of keys) {
      const ttl = await ag.redis!.pttl(k);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
  });
});

describe('per device (Redis)', () => {
  let ag: Harness;
  beforeAll(async () => {
    ag = await start({ RATE_LIMIT_FAILED_PER_IP: '1000' });
  });

  it('limits a device whose own key keeps failing (replays with fresh proofs from its cnf key), from any address, and no other device', async () => {
    const did = `dev-${nanoid(6)}`;
    const key = await deviceKey();
    const used = await mintFor(ag, { did, cnf: { jwk: key.jwk } });
    const proof = () => dpopProof(key, { htu: ag.tokenEndpoint });
    expect((await exchangeWithProof(ag, '127.0.1.1', used, await proof())).status).toBe(200);
    // A new proof needs the device's private key: these failures are the key holder's own.
    for (let i = 0; i < PER_DEVICE; i++) expect((await exchangeWithProof(ag, `127.0.1.${10 + i}`, used, await proof())).status).toBe(400);
    expectLimited(await exchange(ag, '127.0.1.50', await mintFor(ag, { did })));
    expectLimited(await requestFrom('127.0.1.51', `${ag.url}/resource`, { headers: { authorization: `Bearer ${await mintFor(ag, { did })}` } }));
    expect((await exchange(ag, '127.0.1.50', await mintFor(ag, { did: `other-${nanoid(6)}` }))).status).toBe(200);
  });

  it('never limits a device for replays of its genuine tokens without its key: anyone holding a copy can send them', async () => {
    const did = `dev-${nanoid(6)}`;
    const used = await mintFor(ag, { did });
    expect((await exchange(ag, '127.0.1.60', used)).status).toBe(200);
    for (let i = 0; i < PER_DEVICE * 3; i++) expect((await exchange(ag, `127.0.1.${70 + i}`, used)).status).toBe(400);
    expect((await exchange(ag, '127.0.1.60', await mintFor(ag, { did }))).status).toBe(200);
  });

  it('never lets a forger lock out somebody else\'s device: unverified tokens do not count against it', async () => {
    const victim = `victim-${nanoid(6)}`;
    const forger = await makeKey(issuer.keys[0]!.kid);
    for (let i = 0; i < 20; i++) {
      const forged = await assetToken(issuer, ag.tokenEndpoint, { key: forger, claims: { did: victim } });
      expect((await exchange(ag, `127.0.2.${i + 1}`, forged)).status).toBe(400);
    }
    expect((await exchange(ag, '127.0.2.100', await mintFor(ag, { did: victim }))).status).toBe(200);
  });
});

describe('per device, a device being its issuer plus its id (Redis)', () => {
  it('issuer B\'s failing tokens naming A\'s device id do not lock out A\'s device', async () => {
    const other = await MockIssuer.start();
    try {
      const ag = await start({ TRUSTED_ISSUERS: `${issuer.url},${other.url}`, RATE_LIMIT_FAILED_PER_IP: '1000' });
      const did = `device-7-${nanoid(6)}`;
      // B's device key: replays with a fresh proof from it are what counts against a device.
      const keyOfB = await deviceKey();
      const ofB = await assetToken(other, ag.tokenEndpoint, { claims: { did, cnf: { jwk: keyOfB.jwk } } });
      const proof = () => dpopProof(keyOfB, { htu: ag.tokenEndpoint });
      expect((await exchangeWithProof(ag, '127.0.7.1', ofB, await proof())).status).toBe(200);
      for (let i = 0; i < PER_DEVICE; i++) expect((await exchangeWithProof(ag, `127.0.7.${10 + i}`, ofB, await proof())).status).toBe(400);
      // B's device is over its limit now; A's device of the same id is not.
      const freshB = await assetToken(other, ag.tokenEndpoint, { claims: { did, cnf: { jwk: keyOfB.jwk } } });
      expectLimited(await exchangeWithProof(ag, '127.0.7.99', freshB, await proof()));
      expect((await exchange(ag, '127.0.7.100', await mintFor(ag, { did }))).status).toBe(200);
      expect((await requestFrom('127.0.7.101', `${ag.url}/resource`, { headers: { authorization: `Bearer ${await mintFor(ag, { did })}` } })).status).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe('the DPoP protocol (RFC 9449)', () => {
  it('does not count use_dpop_nonce (§8): an honest device meeting it on every exchange and call is never limited', async () => {
    const ag = await start({ RATE_LIMIT_FAILED_PER_IP: '2', DPOP_NONCE_SECRET: 'n'.repeat(40) });
    const ip = '127.0.6.1';
    const device = await deviceKey();
    for (let i = 0; i < 3; i++) {
      const asset = await mintFor(ag, { cnf: { jwk: device.jwk } });
      const first = await exchangeWithProof(ag, ip, asset, await dpopProof(device, { htu: ag.tokenEndpoint }));
      expect(first.status).toBe(400);
      expect(first.json.error).toBe('use_dpop_nonce');
      const nonce = first.headers['dpop-nonce']!;
      const second = await exchangeWithProof(ag, ip, asset, await dpopProof(device, { htu: ag.tokenEndpoint, nonce }));
      expect(second.status).toBe(200);
    }
    const htu = `${ag.url}/resource`;
    for (let i = 0; i < 3; i++) {
      const asset = await mintFor(ag, { cnf: { jwk: device.jwk } });
      const first = await resourceWithProof(ag, ip, asset, await dpopProof(device, { htm: 'GET', htu, token: asset }));
      expect(first.status).toBe(401);
      expect(first.headers['www-authenticate']).toMatch(/error="use_dpop_nonce"/);
      const nonce = first.headers['dpop-nonce']!;
      expect((await resourceWithProof(ag, ip, asset, await dpopProof(device, { htm: 'GET', htu, token: asset, nonce }))).status).toBe(200);
    }
  });

  it('counts proofs that do not verify in the bearer sequence against the address, as at the token endpoint', async () => {
    const ag = await start();
    const ip = '127.0.6.2';
    const device = await deviceKey();
    const stranger = await deviceKey();
    const htu = `${ag.url}/resource`;
    for (let i = 0; i < PER_IP; i++) {
      const asset = await mintFor(ag, { cnf: { jwk: device.jwk } });
      const res = await resourceWithProof(ag, ip, asset, await dpopProof(stranger, { htm: 'GET', htu, token: asset }));
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/error="invalid_dpop_proof"/);
    }
    const asset = await mintFor(ag, { cnf: { jwk: device.jwk } });
    expectLimited(await resourceWithProof(ag, ip, asset, await dpopProof(device, { htm: 'GET', htu, token: asset })));
    expect((await resourceWithProof(ag, '127.0.6.3', asset, await dpopProof(device, { htm: 'GET', htu, token: asset }))).status).toBe(200);
  });
});

describe('limits are configuration', () => {
  it('lifts the limit once the window has passed (on the injected clock: no sleeping)', async () => {
    const clock = new TestClock();
    const ag = await start({ RATE_LIMIT_WINDOW_SECONDS: '60', RATE_LIMIT_FAILED_PER_IP: '2' }, 'redis', clock);
    const ip = '127.0.3.1';
    await exchange(ag, ip, 'x.y.z');
    await exchange(ag, ip, 'x.y.z');
    const limited = await exchange(ag, ip, await mintFor(ag));
    expectLimited(limited);
    clock.advance(Number(limited.headers['retry-after']) - 1);
    expectLimited(await exchange(ag, ip, await mintFor(ag)));
    clock.advance(1);
    expect((await exchange(ag, ip, await mintFor(ag))).status).toBe(200);
  });

  it('0 turns the limits off', async () => {
    const ag = await start({ RATE_LIMIT_FAILED_PER_IP: '0', RATE_LIMIT_FAILED_PER_DEVICE: '0' });
    for (let i = 0; i < PER_IP * 3; i++) expect((await exchange(ag, '127.0.4.1', 'x.y.z')).status).toBe(400);
  });

  it('works the same with the in-memory store', async () => {
    const ag = await start({}, 'memory');
    for (let i = 0; i < PER_IP; i++) expect((await exchange(ag, '127.0.5.1', 'x.y.z')).status).toBe(400);
    expectLimited(await exchange(ag, '127.0.5.1', await mintFor(ag)));
    expect((await exchange(ag, '127.0.5.2', await mintFor(ag))).status).toBe(200);
  });
});

describe('client address behind reverse proxies (TRUSTED_PROXY_HOPS)', () => {
  const failFrom = (ag: Harness, forwardedFor: string) =>
    requestFrom('127.0.0.1', ag.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': forwardedFor },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: 'not.a.jwt' }).toString(),
    });

  it('with one trusted hop, counts the address the proxy appended, so clients behind it are told apart', async () => {
    const ag = await start({ TRUSTED_PROXY_HOPS: '1' });
    // A client cannot pick its own address: only the rightmost entry (the proxy's) counts.
    for (let i = 0; i < PER_IP; i++) expect((await failFrom(ag, `6.6.6.${i}, 10.0.0.1`)).status).toBe(400);
    expectLimited(await failFrom(ag, '7.7.7.7, 10.0.0.1'));
    expect((await failFrom(ag, '10.0.0.2')).status).toBe(400);
  });

  it('with no trusted hop (the default), ignores X-Forwarded-For entirely', async () => {
    const ag = await start({ TRUSTED_PROXY_HOPS: '0' });
    for (let i = 0; i < PER_IP; i++) expect((await failFrom(ag, `10.0.1.${i}`)).status).toBe(400);
    expectLimited(await failFrom(ag, '10.0.9.9'));
  });
});
