import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oauth from 'oauth4webapi';
import { nanoid } from 'nanoid';
import { startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, makeKey, MockIssuer } from '../support/mock-issuer.js';
import { formFrom, requestFrom } from '../support/attack.js';
import { deviceKey, dpopProof } from '../support/dpop.js';

/**
 * No lockout by replay: whoever holds only captured tokens of a device (used, expired, revoked, for
 * another audience) cannot get that device's fresh tokens refused, nor the address honest devices
 * share behind carrier NAT; a forger is still slowed. Real Redis, the real app, distinct loopback
 * source addresses per party (127.0.0.0/8).
 */
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const PER_IP = 5;
const PER_DEVICE = 3;
const BURST = 12;

let issuer: MockIssuer;
let ag: Harness;

beforeAll(async () => {
  issuer = await MockIssuer.start();
  ag = await startAssetgate({
    env: {
      TRUSTED_ISSUERS: issuer.url,
      RATE_LIMIT_FAILED_PER_IP: String(PER_IP),
      RATE_LIMIT_FAILED_PER_DEVICE: String(PER_DEVICE),
      RATE_LIMIT_WINDOW_SECONDS: '60',
      ADMIN_API_KEY: 'admin-key-0123456789abcdef',
    },
  });
});
afterAll(async () => {
  await ag.close();
  await issuer.close();
});

const mint = (claims: Record<string, unknown> = {}, nowSeconds?: number) =>
  assetToken(issuer, ag.tokenEndpoint, nowSeconds === undefined ? { claims } : { claims, nowSeconds });
const jwtBearer = (ip: string, assertion: string) => formFrom(ip, ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion });
const tokenExchange = (ip: string, subjectToken: string) =>
  formFrom(ip, ag.tokenEndpoint, { grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: JWT_TYPE });
const ingest = (ip: string, authorization: string) =>
  requestFrom(ip, `${ag.url}/ingestapi`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: '{"t":1}' });

describe('a replay burst does not lock the device out', () => {
  it('at the token endpoint, jwt-bearer (RFC 7523): every replay refused, the fresh token then accepted', async () => {
    const did = `dev-${nanoid(8)}`;
    const captured = await mint({ did });
    expect((await jwtBearer('127.0.20.1', captured)).status).toBe(200);
    for (let i = 0; i < BURST; i++) {
      const replay = await jwtBearer(`127.0.21.${1 + (i % 3)}`, captured);
      expect(replay.status).toBe(400);
      expect(replay.json.error).toBe('invalid_grant');
    }
    const fresh = await jwtBearer('127.0.20.1', await mint({ did }));
    expect(fresh.status).toBe(200);
    expect(typeof fresh.json.access_token).toBe('string');
  });

  it('at the token endpoint, token exchange (RFC 8693), from the very address the replays came from', async () => {
    const did = `dev-${nanoid(8)}`;
    const captured = await mint({ did });
    expect((await tokenExchange('127.0.22.1', captured)).status).toBe(200);
    for (let i = 0; i < BURST; i++) {
      const replay = await tokenExchange('127.0.22.9', captured);
      expect(replay.status).toBe(400);
      expect(replay.json.error).toBe('invalid_request');
    }
    expect((await tokenExchange('127.0.22.1', await mint({ did }))).status).toBe(200);
    // The replays' address is not refused either: a genuine copy says nothing bad about its sender.
    expect((await tokenExchange('127.0.22.9', await mint({ did: `dev-${nanoid(8)}` }))).status).toBe(200);
  });

  it('on the bearer sequence (/ingestapi with the asset token): every replay refused, the fresh token then accepted', async () => {
    const did = `dev-${nanoid(8)}`;
    const captured = await mint({ did });
    expect((await ingest('127.0.23.1', `Bearer ${captured}`)).status).toBe(202);
    for (let i = 0; i < BURST; i++) {
      const replay = await ingest('127.0.23.9', `Bearer ${captured}`);
      expect(replay.status).toBe(401);
      expect(replay.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    }
    expect((await ingest('127.0.23.1', `Bearer ${await mint({ did })}`)).status).toBe(202);
    expect((await jwtBearer('127.0.23.1', await mint({ did }))).status).toBe(200);
  });

  it('with expired, revoked-device and wrong-audience copies too', async () => {
    const did = `dev-${nanoid(8)}`;
    const expired = await mint({ did }, Math.floor(Date.now() / 1000) - 3600);
    const elsewhere = await assetToken(issuer, 'https://another-service.example/token', { claims: { did } });
    const beforeRevocation = await mint({ did });
    const revoked = await requestFrom('127.0.24.1', `${ag.url}/admin/devices/${did}/revoke`, {
      method: 'POST',
      headers: { authorization: 'Bearer admin-key-0123456789abcdef', 'content-type': 'application/json' },
      body: JSON.stringify({ block_asset_tokens_issued_before: 'now' }),
    });
    expect(revoked.status).toBe(200);
    for (let i = 0; i < BURST; i++) {
      expect((await jwtBearer('127.0.24.9', expired)).status).toBe(400);
      expect((await ingest('127.0.24.9', `Bearer ${elsewhere}`)).status).toBe(401);
      expect((await ingest('127.0.24.9', `Bearer ${beforeRevocation}`)).status).toBe(401);
    }
    // Issued after the block (nbf a few seconds ahead, within the skew): the device's own new tokens.
    const later = () => mint({ did }, Math.floor(Date.now() / 1000) + 10);
    expect((await jwtBearer('127.0.24.1', await later())).status).toBe(200);
    expect((await ingest('127.0.24.1', `Bearer ${await later()}`)).status).toBe(202);
  });

  it('driven by a strict client (oauth4webapi): the device\'s exchange goes through after the burst', async () => {
    const as: oauth.AuthorizationServer = { issuer: ag.url, token_endpoint: ag.tokenEndpoint };
    const client: oauth.Client = { client_id: 'device' };
    const exchange = async (assertion: string) =>
      oauth.processGenericTokenEndpointResponse(
        as,
        client,
        await oauth.genericTokenEndpointRequest(as, client, oauth.None(), JWT_BEARER, new URLSearchParams({ assertion }), { [oauth.allowInsecureRequests]: true }),
      );
    const did = `dev-${nanoid(8)}`;
    const captured = await mint({ did });
    expect((await exchange(captured)).token_type).toBe('bearer');
    for (let i = 0; i < BURST; i++) {
      let failure: unknown;
      try {
        await exchange(captured);
      } catch (err) {
        failure = err;
      }
      expect(failure).toBeInstanceOf(oauth.ResponseBodyError);
      expect((failure as oauth.ResponseBodyError).error).toBe('invalid_grant');
    }
    const fresh = await exchange(await mint({ did }));
    expect(fresh.token_type).toBe('bearer');
    expect(typeof fresh.access_token).toBe('string');
  });
});

describe('many devices behind one address (carrier NAT)', () => {
  it('keeps serving the honest devices while a share of the others present expired and replayed tokens', async () => {
    const nat = '127.0.30.1';
    const honest = Array.from({ length: 12 }, () => `ok-${nanoid(8)}`);
    const stale = Array.from({ length: 6 }, () => `stale-${nanoid(8)}`);
    const used = await Promise.all(stale.map((did) => mint({ did })));
    for (const token of used) expect((await ingest(nat, `Bearer ${token}`)).status).toBe(202);
    const expiredAt = Math.floor(Date.now() / 1000) - 3600;
    for (let round = 0; round < 3; round++) {
      for (const [i, did] of stale.entries()) {
        // a retry after a timeout (replay) and a clock-drifted device (expired), both ways in
        expect((await ingest(nat, `Bearer ${used[i]!}`)).status).toBe(401);
        expect((await jwtBearer(nat, used[i]!)).status).toBe(400);
        expect((await jwtBearer(nat, await mint({ did }, expiredAt))).status).toBe(400);
      }
      for (const did of honest) {
        expect((await ingest(nat, `Bearer ${await mint({ did })}`)).status).toBe(202);
        const session = await jwtBearer(nat, await mint({ did }));
        expect(session.status).toBe(200);
        expect((await ingest(nat, `Bearer ${session.json.access_token as string}`)).status).toBe(202);
      }
    }
  });
});

describe('the brake still holds', () => {
  it('slows a forger with 429 + Retry-After, cheaply, while honest devices elsewhere go through', async () => {
    const forger = '127.0.40.1';
    const wrongKey = await makeKey(issuer.keys[0]!.kid);
    for (let i = 0; i < PER_IP; i++) {
      const forged = await assetToken(issuer, ag.tokenEndpoint, { key: wrongKey, claims: { did: `victim-${i}` } });
      expect((await jwtBearer(forger, forged)).status).toBe(400);
    }
    for (let i = 0; i < 5; i++) {
      const limited = await (i % 2 ? jwtBearer(forger, `garbage.${i}.x`) : ingest(forger, `Bearer garbage.${i}.x`));
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(limited.json.error).toBe('temporarily_unavailable');
    }
    for (let i = 0; i < 5; i++) {
      expect((await jwtBearer(`127.0.41.${i + 1}`, await mint())).status).toBe(200);
      expect((await ingest(`127.0.41.${i + 1}`, `Bearer ${await mint()}`)).status).toBe(202);
    }
  });

  it('counts against the device what only its key can do: replays carrying fresh proofs from the cnf key', async () => {
    const key = await deviceKey();
    const did = `keyed-${nanoid(8)}`;
    const captured = await mint({ did, cnf: { jwk: key.jwk } });
    const proof = () => dpopProof(key, { htu: ag.tokenEndpoint });
    const exchangeWithProof = async (ip: string, assertion: string) =>
      requestFrom(ip, ag.tokenEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await proof() },
        body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString(),
      });
    expect((await exchangeWithProof('127.0.50.1', captured)).status).toBe(200);
    for (let i = 0; i < PER_DEVICE; i++) expect((await exchangeWithProof(`127.0.50.${2 + i}`, captured)).status).toBe(400);
    const limited = await exchangeWithProof('127.0.50.9', await mint({ did, cnf: { jwk: key.jwk } }));
    expect(limited.status).toBe(429);
    // Device-wide revocation stays the remedy for a compromised key; other devices are untouched.
    expect((await jwtBearer('127.0.50.9', await mint())).status).toBe(200);
  });
});
