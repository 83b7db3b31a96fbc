import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AssetgateGuardOptions, DeviceClaims } from '../../src/guard/index.js';
import { connectRedis, createRedisClient, waitForReady, type RedisConnection } from '../../src/tokens/redis-client.js';
import { loadStoreConfig, type ConfigLayer } from '../../src/config.js';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { testRedisEnv } from '../support/redis.js';
import { deviceKey, dpopProof, rawRequest } from '../support/dpop.js';
import { INTROSPECTION_CLIENTS, ODD, revoke, RS, sessionFor, startService } from '../support/resource-servers.js';

/** The service the guard protects, as assetgate knows it; sessions default to it here. */
const SERVICE = 'https://orders.example';
const serviceScopes: ConfigLayer = {
  source: 'guard.yaml',
  settings: {},
  issuers: [],
  introspectionClients: [],
  resourceServers: [{ resource: SERVICE, scopes: ['ingest', 'read'] }],
};

let issuer: MockIssuer;
let ag: Harness;
let redis: RedisConnection;
const services: Array<{ close(): Promise<void> }> = [];
const unavailable: Error[] = [];

const service = async (options: AssetgateGuardOptions) => {
  const s = await startService(options);
  services.push(s);
  return s;
};
const get = (url: string, token?: string) => call(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });

beforeAll(async () => {
  issuer = await MockIssuer.start();
  ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, INTROSPECTION_CLIENTS, RESOURCE_SERVERS: SERVICE, DEFAULT_RESOURCES: SERVICE }, layer: serviceScopes });
  redis = connectRedis(loadStoreConfig(testRedisEnv()).redis!);
  await waitForReady(redis, 5000);
});
afterAll(async () => {
  for (const s of services) await s.close();
  redis.disconnect();
  await ag.close();
  await issuer.close();
});

const introspectionOptions = (extra: Partial<AssetgateGuardOptions> = {}): AssetgateGuardOptions => ({
  mode: 'introspection',
  introspectionEndpoint: `${ag.url}/oauth2/introspect`,
  clientId: ODD.id, // needs form-urlencoding in Basic: proves the guard encodes it
  clientSecret: ODD.secret,
  resource: SERVICE,
  realm: 'svc',
  onUnavailable: (err) => unavailable.push(err),
  ...extra,
} as AssetgateGuardOptions);

describe.each([
  ['redis', () => ({ mode: 'redis', redis, keyPrefix: ag.prefix, realm: 'svc', resource: SERVICE }) as AssetgateGuardOptions],
  ['introspection', () => introspectionOptions({ cacheTtlMs: 60_000 })],
])('assetgateGuard, %s mode', (_mode, options) => {
  let svc: { url: string };
  beforeAll(async () => {
    svc = await service(options());
  });

  it('puts the device claims on ctx.state.device for a live token', async () => {
    const did = `dev-${crypto.randomUUID()}`;
    const token = await sessionFor(ag, issuer, { claims: { did, aid: '02iGUARD' } }, { scope: 'ingest read' });
    const res = await get(svc.url, token);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      device: { sub: did, did, aid: '02iGUARD', scope: 'ingest read', aud: [SERVICE], exp: expect.any(Number), iat: expect.any(Number), assetTokenIssuer: issuer.url },
      bearerLeft: false,
    });
  });

  it('answers RFC 6750 401s itself: bare challenge without credentials, invalid_token otherwise', async () => {
    const none = await get(svc.url);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="svc"');
    expect(none.text).toBe('');
    const jwt = await assetToken(issuer, ag.tokenEndpoint);
    for (const token of ['AAAAAAAAAAAA.' + 'B'.repeat(43), jwt, 'short']) {
      const res = await get(svc.url, token);
      expect(res.status).toBe(401);
      expect(res.json.error).toBe('invalid_token');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="svc", error="invalid_token"/);
    }
    const malformed = await call(svc.url, { headers: { authorization: 'Bearer a b' } });
    expect(malformed.status).toBe(400);
  });

  it('refuses two Authorization headers (ambiguous credentials, RFC 6750 §3.1) as the server does', async () => {
    const token = await sessionFor(ag, issuer);
    for (const url of [svc.url, `${ag.url}/resource`]) {
      const twice = await rawRequest(url, 'GET', { authorization: [`Bearer ${token}`, 'Bearer someone-elses'] });
      expect([twice.status, twice.json.error]).toEqual([400, 'invalid_request']);
      expect(twice.headers['www-authenticate']).toMatch(/^Bearer realm="[^"]+", error="invalid_request"/);
    }
  });

  it('enforces required scopes with 403 insufficient_scope', async () => {
    const scoped = await service({ ...options(), requiredScopes: ['ingest'] });
    const without = await sessionFor(ag, issuer, {}, { scope: 'read' });
    const denied = await get(scoped.url, without);
    expect(denied.status).toBe(403);
    expect(denied.json.error).toBe('insufficient_scope');
    expect(denied.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    const withIt = await sessionFor(ag, issuer, {}, { scope: 'read ingest' });
    expect((await get(scoped.url, withIt)).status).toBe(200);
  });
});

describe('staleness after a revocation', () => {
  it('redis mode: refused on the very next request', async () => {
    const svc = await service({ mode: 'redis', redis, keyPrefix: ag.prefix, resource: SERVICE });
    const token = await sessionFor(ag, issuer);
    expect((await get(svc.url, token)).status).toBe(200);
    await revoke(ag, token);
    expect((await get(svc.url, token)).status).toBe(401);
  });

  it('introspection mode: the cached answer is reused until cacheTtlMs, then the revocation shows', async () => {
    const long = await service(introspectionOptions({ cacheTtlMs: 60_000 }));
    const short = await service(introspectionOptions({ cacheTtlMs: 1 }));
    const uncached = await service(introspectionOptions({ cacheTtlMs: 0 }));
    const token = await sessionFor(ag, issuer);
    expect((await get(long.url, token)).status).toBe(200);
    expect((await get(short.url, token)).status).toBe(200);
    expect((await get(uncached.url, token)).status).toBe(200);
    await revoke(ag, token);
    expect((await get(uncached.url, token)).status).toBe(401); // cacheTtlMs 0: no cache, no staleness
    // Documented staleness: up to cacheTtlMs on the caching process.
    expect((await get(long.url, token)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 20)); // let the 1 ms entry lapse
    expect((await get(short.url, token)).status).toBe(401);
  });

  it('introspection mode: one call to assetgate serves many concurrent requests with one token', async () => {
    const svc = await service(introspectionOptions({ cacheTtlMs: 60_000 }));
    const token = await sessionFor(ag, issuer);
    const before = ag.logs.filter((l) => l.includes('/oauth2/introspect')).length;
    const results = await Promise.all(Array.from({ length: 20 }, () => get(svc.url, token)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const after = ag.logs.filter((l) => l.includes('/oauth2/introspect')).length;
    expect(after - before).toBe(1);
  });
});

describe('an issuer the server no longer trusts', () => {
  it('redis mode refuses its sessions once assetgate restarts without it, as the server does', async () => {
    const droppedIssuer = await MockIssuer.start();
    const keptIssuer = await MockIssuer.start();
    const before = await startAssetgate({ env: { TRUSTED_ISSUERS: `${keptIssuer.url},${droppedIssuer.url}`, RESOURCE_SERVERS: SERVICE } });
    let after: Harness | undefined;
    try {
      // Sessions for the built-in routes (the default), and for the service.
      const dropped = { builtin: await sessionFor(before, droppedIssuer), service: await sessionFor(before, droppedIssuer, {}, { resource: SERVICE }) };
      const kept = { builtin: await sessionFor(before, keptIssuer), service: await sessionFor(before, keptIssuer, {}, { resource: SERVICE }) };
      const longLived = await service({ mode: 'redis', redis, keyPrefix: before.prefix, issuerRefreshMs: 0, resource: SERVICE });
      expect((await get(longLived.url, dropped.service)).status).toBe(200);

      // The operator drops the issuer from TRUSTED_ISSUERS and restarts assetgate on the same keyspace.
      after = await startAssetgate({ prefix: before.prefix, env: { TRUSTED_ISSUERS: keptIssuer.url, RESOURCE_SERVERS: SERVICE } });
      const fresh = await service({ mode: 'redis', redis, keyPrefix: before.prefix, resource: SERVICE });
      for (const [url, session] of [[`${after.url}/resource`, 'builtin'], [longLived.url, 'service'], [fresh.url, 'service']] as const) {
        expect((await get(url, dropped[session])).status).toBe(401);
        expect((await get(url, kept[session])).status).toBe(200);
      }
    } finally {
      await after?.close();
      await before.close();
      await droppedIssuer.close();
      await keptIssuer.close();
    }
  });
});

describe('when the token state cannot be learnt: 503, retryable', () => {
  it('introspection endpoint unreachable, or the guard holding wrong client credentials', async () => {
    unavailable.length = 0;
    const down = await service(introspectionOptions({ introspectionEndpoint: 'http://127.0.0.1:1/oauth2/introspect', timeoutMs: 1000 }));
    const wrongSecret = await service(introspectionOptions({ clientId: RS.id, clientSecret: 'not-the-secret-0123456789' }));
    const token = await sessionFor(ag, issuer);
    for (const svc of [down, wrongSecret]) {
      const res = await get(svc.url, token);
      expect(res.status).toBe(503);
      expect(res.json.error).toBe('temporarily_unavailable');
      expect(res.headers.get('retry-after')).toBe('1');
    }
    expect(unavailable.map((e) => e.message)).toEqual([expect.stringMatching(/request failed/), 'introspection answered HTTP 401']);
  });

  it('redis mode refuses (503) a keyspace of another schema version, and says why', async () => {
    const otherPrefix = `${ag.prefix}unmigrated:`;
    const seen: Error[] = [];
    const svc = await service({ mode: 'redis', redis, keyPrefix: otherPrefix, resource: SERVICE, onUnavailable: (err) => seen.push(err) });
    const res = await get(svc.url, await sessionFor(ag, issuer));
    expect(res.status).toBe(503);
    expect(res.json.error).toBe('temporarily_unavailable');
    expect(seen.at(-1)?.message).toMatch(/schema 0, this guard reads schema \d+/);
  });

  it('redis mode with Redis unreachable', async () => {
    const dead = createRedisClient('redis://127.0.0.1:1', { lazyConnect: true });
    dead.on('error', () => undefined);
    try {
      const svc = await service({ mode: 'redis', redis: dead, keyPrefix: ag.prefix, resource: SERVICE });
      const res = await get(svc.url, await sessionFor(ag, issuer));
      expect(res.status).toBe(503);
      expect(res.json.error).toBe('temporarily_unavailable');
    } finally {
      dead.disconnect();
    }
  });
});

describe('key-bound (DPoP) tokens through the guard library', () => {
  async function boundSession(): Promise<{ token: string; key: Awaited<ReturnType<typeof deviceKey>> }> {
    const key = await deviceKey('ES256');
    const assertion = await assetToken(issuer, ag.tokenEndpoint, { claims: { cnf: { jwk: key.jwk } } });
    const proof = await dpopProof(key, { htu: ag.tokenEndpoint });
    const res = await postForm(ag.tokenEndpoint, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }, { DPoP: proof });
    expect(res.json.token_type).toBe('DPoP');
    return { token: res.json.access_token as string, key };
  }

  describe.each([
    ['redis', () => ({ mode: 'redis', redis, keyPrefix: ag.prefix, resource: SERVICE }) as AssetgateGuardOptions],
    ['introspection', () => introspectionOptions({ cacheTtlMs: 0 })],
  ])('%s mode', (_mode, options) => {
    it('accepts a bound token only as DPoP with a proof from its key, covering the token (ath)', async () => {
      const svc = await service({ ...options(), dpop: { publicUrl: 'https://svc.example' } } as AssetgateGuardOptions);
      const { token, key } = await boundSession();
      const htu = 'https://svc.example/';
      const ok = await call(svc.url, { headers: { authorization: `DPoP ${token}`, DPoP: await dpopProof(key, { htm: 'GET', htu, token }) } });
      expect(ok.status).toBe(200);
      expect((ok.json.device as DeviceClaims).cnf?.jkt).toBe(key.jkt);

      const asBearer = await get(svc.url, token);
      expect(asBearer.status).toBe(401);
      expect(asBearer.headers.get('www-authenticate')).toMatch(/^DPoP realm=.*error="invalid_token"/);

      const noAth = await call(svc.url, { headers: { authorization: `DPoP ${token}`, DPoP: await dpopProof(key, { htm: 'GET', htu }) } });
      expect([noAth.status, noAth.json.error]).toEqual([401, 'invalid_dpop_proof']);

      const otherKey = await deviceKey('ES256');
      const wrongKey = await call(svc.url, { headers: { authorization: `DPoP ${token}`, DPoP: await dpopProof(otherKey, { htm: 'GET', htu, token }) } });
      expect([wrongKey.status, wrongKey.json.error]).toEqual([401, 'invalid_dpop_proof']);

      const wrongUrl = await call(svc.url, {
        headers: { authorization: `DPoP ${token}`, DPoP: await dpopProof(key, { htm: 'GET', htu: 'https://elsewhere.example/', token }) },
      });
      expect([wrongUrl.status, wrongUrl.json.error]).toEqual([401, 'invalid_dpop_proof']);

      const proof = await dpopProof(key, { htm: 'GET', htu, token });
      expect((await call(svc.url, { headers: { authorization: `DPoP ${token}`, DPoP: proof } })).status).toBe(200);
      const replay = await call(svc.url, { headers: { authorization: `DPoP ${token}`, DPoP: proof } });
      expect([replay.status, replay.json.error]).toEqual([401, 'invalid_dpop_proof']);
    });

    it('refuses bound tokens when the guard has no DPoP settings (fail closed)', async () => {
      const svc = await service(options());
      const { token, key } = await boundSession();
      const res = await call(svc.url, { headers: { authorization: `DPoP ${token}`, DPoP: await dpopProof(key, { htm: 'GET', htu: `${svc.url}/`, token }) } });
      expect(res.status).toBe(401);
      expect(res.json.error).toBe('invalid_token');
    });
  });
});
