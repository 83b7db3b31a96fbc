import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oauth from 'oauth4webapi';
import { parseRevokeDeviceArgs, revokeDevice, revokeDeviceMain } from '../../src/cli/revoke-device.js';
import { loadConfig } from '../../src/config.js';
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
    expect(res.json).toEqual({ did, revoked_at: expect.any(Number), asset_tokens_blocked_before: res.json.revoked_at });

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

  it('without a block, only the sessions die: the device can exchange again', async () => {
    const did = `dev-${crypto.randomUUID()}`;
    const token = await sessionFor(a, issuer, { claims: { did } });
    const res = await adminRevoke(a, did);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ did, revoked_at: expect.any(Number) });
    expect(await active(b, token)).toBe(false);
    const again = await sessionFor(a, issuer, { claims: { did } });
    expect(await active(b, again)).toBe(true);
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
    for (const body of [{ block_asset_tokens_issued_before: 'yesterday' }, { block_asset_tokens_issued_before: -1 }, { surprise: 1 }, [1]]) {
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

  it('works from the CLI function against the same Redis', async () => {
    const did = `dev-${crypto.randomUUID()}`;
    const token = await sessionFor(a, issuer, { claims: { did } });
    const old = await assetToken(issuer, a.tokenEndpoint, { claims: { did } });
    const config = loadConfig({ NODE_ENV: 'test', ...testRedisEnv(), REDIS_KEY_PREFIX: a.prefix, TRUSTED_ISSUERS: issuer.url });
    const result = await revokeDevice(config, parseRevokeDeviceArgs([did, '--block-asset-tokens-before', 'now']));
    expect(result).toEqual({ did, revoked_at: expect.any(Number), asset_tokens_blocked_before: expect.any(Number) });
    expect(await active(b, token)).toBe(false);
    expect((await postForm(b.tokenEndpoint, { grant_type: JWT_BEARER, assertion: old })).status).toBe(400);
  });

  it('the CLI refuses bad arguments with exit code 2 and an in-memory setup with a pointer to the endpoint', async () => {
    expect(() => parseRevokeDeviceArgs([])).toThrow(/usage/);
    expect(() => parseRevokeDeviceArgs(['d', '--block-asset-tokens-before', 'soon'])).toThrow(/block-asset-tokens-before/);
    expect(await revokeDeviceMain(['a', 'b'], {})).toBe(2);
    await expect(revokeDevice(loadConfig({ NODE_ENV: 'test' }), { did: 'x' })).rejects.toThrow(/admin/);
  });
});
