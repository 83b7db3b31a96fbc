import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oauth from 'oauth4webapi';
import { runCli } from '../../src/cli/program.js';
import { revocationRequestOf, revokeDeviceDirect } from '../../src/cli/revoke-device.js';
import { loadConfig, loadStoreConfig } from '../../src/config.js';
import { deviceTag, issuerKey, redisKeys } from '../../src/tokens/keys.js';
import { RedisTokenStore } from '../../src/tokens/redis-store.js';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { testRedisEnv, uniquePrefix } from '../support/redis.js';
import { ADMIN_API_KEY, basic, INTROSPECTION_CLIENTS, introspect, JWT_BEARER, resource, revoke, RS, sessionFor } from '../support/resource-servers.js';

let issuer: MockIssuer;
let a: Harness;
let b: Harness;

beforeAll(async () => {
  issuer = await MockIssuer.start();
  const prefix = uniquePrefix();
  // Two instances over one Redis keyspace, as behind a load balancer.
  const env = { TRUSTED_ISSUERS: issuer.url, INTROSPECTION_CLIENTS, ADMIN_API_KEY };
  a = await startAssetgate({ prefix, env });
  b = await startAssetgate({ prefix, env });
});
afterAll(async () => {
  await b.close();
  await a.close();
  await issuer.close();
});

const active = async (ag: Harness, token: string) => (await introspect(ag, token)).json.active;

describe('POST /oauth2/revoke (RFC 7009)', () => {
  it('revokes on one instance; the token fails at once on the other (resource and introspection)', async () => {
    const token = await sessionFor(a, issuer);
    expect((await resource(b, token)).status).toBe(200);
    expect(await active(b, token)).toBe(true);

    const res = await revoke(b, token);
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(res.headers.get('www-authenticate')).toBeNull();

    for (const ag of [a, b]) {
      const r = await resource(ag, token);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(await active(ag, token)).toBe(false);
    }
    // A second revocation of the same token is still 200.
    expect((await revoke(a, token)).status).toBe(200);
  });

  it('answers 200 for unknown and malformed tokens whatever the hint, unsupported_token_type for asset-token JWTs', async () => {
    const jwt = await assetToken(issuer, a.tokenEndpoint);
    for (const [token, hint] of [
      ['AAAAAAAAAAAA.' + 'B'.repeat(43), 'access_token'],
      ['garbage', 'refresh_token'],
    ] as const) {
      const res = await revoke(a, token, undefined, { token_type_hint: hint });
      expect(res.status).toBe(200);
    }
    const asset = await revoke(a, jwt, undefined, { token_type_hint: 'no_such_hint' });
    expect([asset.status, asset.json.error]).toEqual([400, 'unsupported_token_type']);
  });

  it('honours the token whatever token_type_hint says', async () => {
    const token = await sessionFor(a, issuer);
    expect((await revoke(a, token, undefined, { token_type_hint: 'refresh_token' })).status).toBe(200);
    expect(await active(a, token)).toBe(false);
  });

  it('requires client authentication and the token parameter', async () => {
    const token = await sessionFor(a, issuer);
    const attempts: Array<Record<string, string>> = [{}, { authorization: basic(RS.id, 'wrong-secret-0123456789') }, { authorization: basic('nobody', RS.secret) }];
    for (const headers of attempts) {
      const res = await revoke(a, token, headers);
      expect(res.status).toBe(401);
      expect(res.json.error).toBe('invalid_client');
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="assetgate"');
    }
    expect(await active(a, token)).toBe(true); // nothing was revoked by the refused calls
    const missing = await postForm(`${a.url}/oauth2/revoke`, { token_type_hint: 'access_token' }, { authorization: basic(RS.id, RS.secret) });
    expect(missing.status).toBe(400);
    expect(missing.json.error).toBe('invalid_request');
  });

  it('works with a strict client (oauth4webapi revocationRequest)', async () => {
    const token = await sessionFor(a, issuer);
    const as: oauth.AuthorizationServer = { issuer: a.url, revocation_endpoint: `${a.url}/oauth2/revoke` };
    const client: oauth.Client = { client_id: RS.id };
    const response = await oauth.revocationRequest(as, client, oauth.ClientSecretBasic(RS.secret), token, { [oauth.allowInsecureRequests]: true });
    await expect(oauth.processRevocationResponse(response)).resolves.toBeUndefined();
    expect(await active(b, token)).toBe(false);
  });
});

describe('device-wide revocation', () => {
  const adminRevoke = (ag: Harness, did: string, body?: unknown, key = ADMIN_API_KEY) =>
    call(`${ag.url}/admin/devices/${encodeURIComponent(did)}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('ends every session of the device on every instance, leaves other devices alone, and blocks older asset tokens', async () => {
    const did = `dev-${crypto.randomUUID()}`;
    const first = await sessionFor(a, issuer, { claims: { did } });
    const second = await sessionFor(b, issuer, { claims: { did } });
    const other = await sessionFor(a, issuer, { claims: { did: `dev-${crypto.randomUUID()}` } });
    const unusedOld = await assetToken(issuer, a.tokenEndpoint, { claims: { did } }); // nbf: 5 s ago

    const res = await adminRevoke(b, did, { block_asset_tokens_issued_before: 'now' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.json).toEqual({ iss: issuer.url, did, revoked_at: expect.any(Number), asset_tokens_blocked_before: res.json.revoked_at });

    for (const ag of [a, b]) {
      for (const token of [first, second]) {
        expect((await resource(ag, token)).status).toBe(401);
        expect(await active(ag, token)).toBe(false);
      }
      expect((await resource(ag, other)).status).toBe(200);
      expect(await active(ag, other)).toBe(true);
    }

    // An asset token issued before the block: refused at the token endpoint and in the bearer sequence.
    const exchange = await postForm(a.tokenEndpoint, { grant_type: JWT_BEARER, assertion: unusedOld });
    expect(exchange.status).toBe(400);
    expect(exchange.json.error).toBe('invalid_grant');
    expect(exchange.json.error_description).toMatch(/revoked/);
    const bearer = await resource(b, await assetToken(issuer, a.tokenEndpoint, { claims: { did } }));
    expect(bearer.status).toBe(401);

    // One issued after it works, and its session is live.
    const later = Math.floor(Date.now() / 1000) + 2;
    const fresh = await sessionFor(b, issuer, { claims: { did, iat: later } });
    expect(await active(a, fresh)).toBe(true);
  });

  it('blocks the device\'s older asset tokens by default (a stolen device), and logs the revocation as an audit trail', async () => {
    const did = `dev-${crypto.randomUUID()}`;
    const token = await sessionFor(a, issuer, { claims: { did } });
    const unspent = await assetToken(issuer, a.tokenEndpoint, { claims: { did } });
    const res = await adminRevoke(a, did);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ iss: issuer.url, did, revoked_at: expect.any(Number), asset_tokens_blocked_before: res.json.revoked_at });
    expect(await active(b, token)).toBe(false);
    expect((await postForm(a.tokenEndpoint, { grant_type: JWT_BEARER, assertion: unspent })).json.error_description).toMatch(/revoked/);
    const audit = a.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit === 'device_revoked' && l.did === did);
    expect(audit).toEqual([expect.objectContaining({ via: 'admin_api', iss: issuer.url, did, block_requested: 'now', asset_tokens_blocked_before: res.json.revoked_at })]);
    expect(a.logs.join('')).not.toContain(ADMIN_API_KEY);
  });

  it('with "none", only the sessions die: the device can exchange again', async () => {
    const did = `dev-${crypto.randomUUID()}`;
    const token = await sessionFor(a, issuer, { claims: { did } });
    const unspent = await assetToken(issuer, a.tokenEndpoint, { claims: { did } });
    const res = await adminRevoke(a, did, { block_asset_tokens_issued_before: 'none' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ iss: issuer.url, did, revoked_at: expect.any(Number) });
    expect(await active(b, token)).toBe(false);
    expect((await postForm(a.tokenEndpoint, { grant_type: JWT_BEARER, assertion: unspent })).status).toBe(200);
  });

  it('protects the admin endpoint with its own key', async () => {
    const did = `dev-${crypto.randomUUID()}`;
    const token = await sessionFor(a, issuer, { claims: { did } });
    const none = await call(`${a.url}/admin/devices/${did}/revoke`, { method: 'POST' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="assetgate-admin"');
    for (const key of [`${ADMIN_API_KEY}x`, ADMIN_API_KEY.slice(1), 'short']) {
      const wrong = await adminRevoke(a, did, undefined, key);
      expect(wrong.status).toBe(401);
      expect(wrong.json.error).toBe('invalid_token');
    }
    // An introspection client's credentials are not admin credentials.
    const rs = await call(`${a.url}/admin/devices/${did}/revoke`, { method: 'POST', headers: { authorization: basic(RS.id, RS.secret) } });
    expect(rs.status).toBe(401);
    expect(await active(a, token)).toBe(true);
  });

  it('answers RFC-shaped 4xx to bad admin requests', async () => {
    const did = `dev-${crypto.randomUUID()}`;
    for (const body of [{ block_asset_tokens_issued_before: 'yesterday' }, { block_asset_tokens_issued_before: -1 }, { surprise: 1 }, [1], { iss: 'https://untrusted.example' }, { iss: '' }]) {
      const res = await adminRevoke(a, did, body);
      expect(res.status).toBe(400);
      expect(res.json.error).toBe('invalid_request');
    }
    const future = await adminRevoke(a, did, { block_asset_tokens_issued_before: Date.now() }); // milliseconds by mistake
    expect(future.status).toBe(400);
    expect(future.json.error_description).toMatch(/future/);
    const tooLong = await adminRevoke(a, 'd'.repeat(300));
    expect(tooLong.status).toBe(400);
    const notJson = await call(`${a.url}/admin/devices/${did}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_API_KEY}`, 'content-type': 'text/plain' },
      body: 'now',
    });
    expect(notJson.status).toBe(415);
  });

  it('is not there at all without ADMIN_API_KEY', async () => {
    const plain = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url } });
    try {
      const res = await call(`${plain.url}/admin/devices/x/revoke`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_API_KEY}` } });
      expect(res.status).toBe(404);
    } finally {
      await plain.close();
    }
  });

  it('works directly against the same Redis (assetgate revoke-device --direct, npm run revoke-device), with the same behaviour', async () => {
    const did = `dev-${crypto.randomUUID()}`;
    const token = await sessionFor(a, issuer, { claims: { did } });
    const old = await assetToken(issuer, a.tokenEndpoint, { claims: { did } });
    // A shell that names no issuer: the one the servers published is the device's.
    const config = loadStoreConfig({ NODE_ENV: 'test', ...testRedisEnv(), REDIS_KEY_PREFIX: a.prefix });
    const result = await revokeDeviceDirect(config, revocationRequestOf(did, {}));
    expect(result).toEqual({ iss: issuer.url, did, revoked_at: expect.any(Number), asset_tokens_blocked_before: expect.any(Number) });
    expect(await active(b, token)).toBe(false);
    expect((await postForm(a.tokenEndpoint, { grant_type: JWT_BEARER, assertion: old })).json.error_description).toMatch(/revoked/);
  });

  it('the command refuses bad arguments with exit code 2, an untrusted issuer, and an in-memory setup with a pointer to the admin API', async () => {
    const io = () => {
      const out: string[] = [];
      return { out, io: { out: (t: string) => out.push(t), err: (t: string) => out.push(t), env: { NODE_ENV: 'test', ...testRedisEnv(), REDIS_KEY_PREFIX: a.prefix } } };
    };
    expect(() => revocationRequestOf('d', { blockAssetTokensBefore: 'soon' })).toThrow(/block-asset-tokens-before/);
    expect(await runCli(['revoke-device', '--direct'], io().io)).toBe(2);
    expect(await runCli(['revoke-device', 'd', '--direct', '--block-asset-tokens-before', 'soon'], io().io)).toBe(2);
    const untrusted = io();
    expect(await runCli(['revoke-device', 'd', '--direct', '--issuer', 'https://nobody.example'], untrusted.io)).toBe(2);
    expect(untrusted.out.join('')).toMatch(/not trusted/);
    await expect(revokeDeviceDirect(loadConfig({ NODE_ENV: 'test' }), { did: 'x' })).rejects.toThrow(/admin API/);
  });
});

describe('a device is its issuer plus its id (two trusted issuers naming the same did)', () => {
  let other: MockIssuer;
  let ag: Harness;
  beforeAll(async () => {
    other = await MockIssuer.start();
    ag = await startAssetgate({ env: { TRUSTED_ISSUERS: `${issuer.url},${other.url}`, INTROSPECTION_CLIENTS, ADMIN_API_KEY } });
  });
  afterAll(async () => {
    await ag.close();
    await other.close();
  });
  const adminRevoke = (did: string, body: unknown) =>
    call(`${ag.url}/admin/devices/${encodeURIComponent(did)}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('revoking issuer A\'s device-7 leaves issuer B\'s device-7 working (sessions and asset tokens)', async () => {
    const did = `device-7-${crypto.randomUUID()}`;
    const ofA = await sessionFor(ag, issuer, { claims: { did } });
    const ofB = await sessionFor(ag, other, { claims: { did } });
    const unspentB = await assetToken(other, ag.tokenEndpoint, { claims: { did } });

    const res = await adminRevoke(did, { iss: issuer.url });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ iss: issuer.url, did });

    expect((await resource(ag, ofA)).status).toBe(401);
    expect(await active(ag, ofA)).toBe(false);
    expect((await resource(ag, ofB)).status).toBe(200);
    expect(await introspect(ag, ofB)).toMatchObject({ json: { active: true, sub: did, asset_token_issuer: other.url } });
    expect((await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: unspentB })).status).toBe(200);
    expect((await resource(ag, await assetToken(other, ag.tokenEndpoint, { claims: { did } }))).status).toBe(200);
    expect((await resource(ag, await assetToken(issuer, ag.tokenEndpoint, { claims: { did } }))).status).toBe(401);
  });

  it('refuses a bare device id while several issuers are trusted (never guesses whose device it is)', async () => {
    const did = `device-7-${crypto.randomUUID()}`;
    const ofA = await sessionFor(ag, issuer, { claims: { did } });
    const res = await adminRevoke(did, {});
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/issuer/) });
    expect(await active(ag, ofA)).toBe(true);
  });
});

describe('revocation marks outlive every session they cover', () => {
  it('a server issuing 24 h sessions (its configuration file) and a revocation from a shell with default settings: the mark lasts 24 h', async () => {
    const ag = await startAssetgate({
      env: { TRUSTED_ISSUERS: issuer.url },
      layer: { source: 'assetgate.yaml', settings: { ACCESS_TOKEN_TTL_SECONDS: '86400' }, issuers: [], introspectionClients: [], resourceServers: [] },
    });
    try {
      const did = `dev-${crypto.randomUUID()}`;
      const token = await sessionFor(ag, issuer, { claims: { did, exp: Math.floor(Date.now() / 1000) + 86_400 } });
      // The shell: environment only, default ACCESS_TOKEN_TTL_SECONDS (1 h).
      const shell = loadStoreConfig({ NODE_ENV: 'test', ...testRedisEnv(), REDIS_KEY_PREFIX: ag.prefix });
      expect(shell.accessTokenTtlSeconds).toBe(3600);
      await revokeDeviceDirect(shell, revocationRequestOf(did, { blockAssetTokensBefore: 'none' }));
      const mark = redisKeys(ag.prefix).deviceRevokedBefore(deviceTag(did), issuerKey(issuer.url));
      // Past the shell's hour the mark is still there, as long as the sessions it covers may live.
      expect(await ag.redis!.pttl(mark)).toBeGreaterThan(86_400_000);
      expect((await resource(ag, token)).status).toBe(401);
    } finally {
      await ag.close();
    }
  });

  it('a later revocation from a process with shorter settings never shortens an existing mark', async () => {
    const prefix = a.prefix;
    const device = { iss: 'https://unpublished.example', subject: `dev-${crypto.randomUUID()}` };
    const clock = { now: () => Date.now() };
    const long = new RedisTokenStore(a.redis!, { keyPrefix: `${prefix}gt:`, revocationMarkTtlMs: 86_400_000, clock });
    const short = new RedisTokenStore(a.redis!, { keyPrefix: `${prefix}gt:`, revocationMarkTtlMs: 1_000, clock });
    const mark = redisKeys(`${prefix}gt:`).deviceRevokedBefore(deviceTag(device.subject), issuerKey(device.iss));
    await long.revokeDevice(device, Date.now());
    await short.revokeDevice(device, Date.now() + 1);
    expect(await a.redis!.pttl(mark)).toBeGreaterThan(86_000_000);
    expect(Number(await a.redis!.get(mark))).toBeGreaterThan(Date.now() - 10_000); // the later time is kept
  });
});
