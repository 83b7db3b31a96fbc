import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oauth from 'oauth4webapi';
import { createServer, type Server } from 'node:http';
import Koa from 'koa';
import { loadStoreConfig, type ConfigLayer } from '../../src/config.js';
import { assetgateGuard, resourceMetadataUrl, serveProtectedResourceMetadata, type AssetgateGuardOptions, type DeviceClaims } from '../../src/guard/index.js';
import { connectRedis, waitForReady, type RedisConnection } from '../../src/tokens/redis-client.js';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { keysUnder, testRedisEnv } from '../support/redis.js';
import { JWT_BEARER, startService } from '../support/resource-servers.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const TELEMETRY = 'https://telemetry.example/v1';
const FIRMWARE = 'https://firmware.example';

/** An introspection client bound to the telemetry resource, and one bound to none. */
const TELEMETRY_CLIENT = { id: 'telemetry-rs', secret: 'telemetry-secret-0123456789', resource: TELEMETRY };
const ANY_CLIENT = { id: 'any-rs', secret: 'any-rs-secret-0123456789' };

let issuer: MockIssuer;
let ag: Harness;
let redis: RedisConnection;
const services: Array<{ close(): Promise<void> }> = [];

const layer = (iss: string): ConfigLayer => ({
  source: 'audience.yaml',
  settings: {},
  issuers: [{ issuer: iss, assetScopes: { '02iCONSOLE': ['telemetry:read', 'telemetry:write', 'ingest'] }, scopes: ['telemetry:read', 'ingest'] }],
  introspectionClients: [TELEMETRY_CLIENT, ANY_CLIENT],
  resourceServers: [
    { resource: TELEMETRY, name: 'telemetry', scopes: ['telemetry:read', 'telemetry:write'], maxTokenLifetimeSeconds: 600 },
    { resource: FIRMWARE, name: 'firmware' },
  ],
});

beforeAll(async () => {
  issuer = await MockIssuer.start();
  ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, SUPPORTED_SCOPES: 'ingest' }, layer: layer(issuer.url) });
  redis = connectRedis(loadStoreConfig(testRedisEnv()).redis!);
  await waitForReady(redis, 5000);
});
afterAll(async () => {
  for (const s of services) await s.close();
  redis.disconnect();
  await ag.close();
  await issuer.close();
});

const mint = (claims: Record<string, unknown> = {}) => assetToken(issuer, ag.tokenEndpoint, { claims });
/** A form with repeated parameters (URLSearchParams from pairs). */
const exchange = (pairs: Array<[string, string]>) =>
  call(ag.tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(pairs).toString() });
const jwtBearer = async (pairs: Array<[string, string]> = [], claims: Record<string, unknown> = {}) =>
  exchange([['grant_type', JWT_BEARER], ['assertion', await mint(claims)], ...pairs]);
const tokenExchange = async (pairs: Array<[string, string]> = [], claims: Record<string, unknown> = {}) =>
  exchange([['grant_type', TOKEN_EXCHANGE], ['subject_token', await mint(claims)], ['subject_token_type', JWT_TYPE], ...pairs]);
const atResource = (token: string) => call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${token}` } });

describe('RFC 8707 resource / RFC 8693 audience at the token endpoint', () => {
  it('without parameters, the session is for the default set (the built-in resource) and works at /resource', async () => {
    const res = await jwtBearer();
    expect(res.status).toBe(200);
    expect((await atResource(res.json.access_token as string)).status).toBe(200);
  });

  it.each([
    ['jwt-bearer', jwtBearer],
    ['token-exchange', tokenExchange],
  ])('%s: a session for another resource server is refused at the built-in routes (401 invalid_token)', async (_, grant) => {
    const res = await grant([['resource', TELEMETRY]]);
    expect(res.status).toBe(200);
    const token = res.json.access_token as string;
    const refused = await atResource(token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    const ingest = await call(`${ag.url}/ingestapi`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(ingest.status).toBe(401);
  });

  it('resource is repeatable: a session for both works at the built-in routes', async () => {
    const res = await jwtBearer([['resource', TELEMETRY], ['resource', ag.url]]);
    expect(res.status).toBe(200);
    expect((await atResource(res.json.access_token as string)).status).toBe(200);
  });

  it('token-exchange takes audience as a configured name or as the identifier', async () => {
    for (const audience of ['telemetry', TELEMETRY]) {
      const res = await tokenExchange([['audience', audience]]);
      expect(res.status).toBe(200);
      expect((await atResource(res.json.access_token as string)).status).toBe(401);
    }
  });

  it.each<[string, Array<[string, string]>]>([
    ['an unknown resource', [['resource', 'https://billing.example']]],
    ['a relative resource', [['resource', '/resource']]],
    ['a resource with a fragment', [['resource', `${TELEMETRY}#x`]]],
    ['one unknown among known ones', [['resource', TELEMETRY], ['resource', 'https://billing.example']]],
  ])('%s is 400 invalid_target, and the asset token stays usable', async (_, pairs) => {
    const assertion = await mint();
    const res = await exchange([['grant_type', JWT_BEARER], ['assertion', assertion], ...pairs]);
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_target');
    expect(res.headers.get('www-authenticate')).toBeNull();
    expect((await exchange([['grant_type', JWT_BEARER], ['assertion', assertion]])).status).toBe(200);
  });

  it('an unknown audience is 400 invalid_target (RFC 8693 §2.2.2)', async () => {
    const res = await tokenExchange([['audience', 'billing']]);
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_target');
  });

  it('caps expires_in at the resource\'s max token lifetime, also for a session for several', async () => {
    const exp = Math.floor(Date.now() / 1000) + 7200;
    expect((await jwtBearer([], { exp })).json.expires_in).toBeGreaterThan(3000);
    for (const pairs of [[['resource', TELEMETRY]], [['resource', ag.url], ['resource', TELEMETRY]]] as Array<Array<[string, string]>>) {
      const res = await jwtBearer(pairs, { exp });
      expect(res.json.expires_in).toBe(600);
    }
  });

  it('stores a restricted session in a few bytes more than a default one (short resource ids)', async () => {
    const before = new Set(await keysUnder(ag.redis!, ag.prefix));
    await jwtBearer([['resource', TELEMETRY]]);
    const key = (await keysUnder(ag.redis!, ag.prefix)).find((k) => !before.has(k) && k.includes(':at:'))!;
    const value = (await ag.redis!.get(key))!;
    expect(value).toMatch(/^@[A-Za-z0-9_-]{4}\|/);
    expect(value).not.toContain('telemetry');
  });

  it('works with a strict client (oauth4webapi) passing resource', async () => {
    const as: oauth.AuthorizationServer = { issuer: ag.url, token_endpoint: ag.tokenEndpoint };
    const client: oauth.Client = { client_id: 'device' };
    const params = new URLSearchParams([['assertion', await mint()], ['resource', TELEMETRY], ['scope', 'telemetry:read']]);
    const response = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), JWT_BEARER, params, { [oauth.allowInsecureRequests]: true });
    const result = await oauth.processGenericTokenEndpointResponse(as, client, response);
    expect(result.scope).toBe('telemetry:read');
    const bad = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), JWT_BEARER, new URLSearchParams([['assertion', await mint()], ['resource', 'https://billing.example']]), {
      [oauth.allowInsecureRequests]: true,
    });
    await expect(oauth.processGenericTokenEndpointResponse(as, client, bad)).rejects.toMatchObject({ error: 'invalid_target', status: 400 });
  });
});

describe('scopes from policy, not from the device', () => {
  it('grants what the resource accepts and the issuer allows; anything more is invalid_scope', async () => {
    expect((await jwtBearer([['resource', TELEMETRY], ['scope', 'telemetry:read']])).json.scope).toBe('telemetry:read');
    // The resource accepts telemetry:write, but this issuer's devices may not have it ...
    const refused = await jwtBearer([['resource', TELEMETRY], ['scope', 'telemetry:read telemetry:write']]);
    expect(refused.status).toBe(400);
    expect(refused.json.error).toBe('invalid_scope');
    // ... except the asset the configuration names.
    const console = await jwtBearer([['resource', TELEMETRY], ['scope', 'telemetry:write']], { aid: '02iCONSOLE' });
    expect(console.status).toBe(200);
    expect(console.json.scope).toBe('telemetry:write');
    // A scope of another resource than the session's is not granted.
    expect((await jwtBearer([['scope', 'telemetry:read']])).json.error).toBe('invalid_scope');
    expect((await jwtBearer([['resource', FIRMWARE], ['scope', 'ingest']])).json.error).toBe('invalid_scope');
  });

  it('the asset token is not consumed by an invalid_scope refusal', async () => {
    const assertion = await mint();
    expect((await exchange([['grant_type', JWT_BEARER], ['assertion', assertion], ['scope', 'admin']])).json.error).toBe('invalid_scope');
    expect((await exchange([['grant_type', JWT_BEARER], ['assertion', assertion]])).status).toBe(200);
  });
});

describe('scopes with nothing configured', () => {
  let bare: Harness;
  beforeAll(async () => {
    bare = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url } });
  });
  afterAll(async () => {
    await bare.close();
  });

  it('grants no scope a device asks for (scope=admin superuser is invalid_scope, not granted)', async () => {
    const res = await postForm(bare.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken(issuer, bare.tokenEndpoint), scope: 'admin superuser' });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_scope');
    expect(res.json).not.toHaveProperty('access_token');
    const plain = await postForm(bare.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken(issuer, bare.tokenEndpoint) });
    expect(plain.status).toBe(200);
    expect(plain.json).not.toHaveProperty('scope');
  });
});

/** Another service, protected by the guard library (closed after the suite). */
async function guarded(options: AssetgateGuardOptions): Promise<string> {
  const service = await startService(options);
  services.push(service);
  return service.url;
}

const sessionAt = async (...resources: string[]) => (await jwtBearer(resources.map((r): [string, string] => ['resource', r]))).json.access_token as string;
const bearer = (url: string, token: string) => call(url, { headers: { authorization: `Bearer ${token}` } });

describe('a session for one resource server is refused at another', () => {
  it('introspection answers aud, and `active: false` to a client bound to another resource (RFC 7662 §2.2)', async () => {
    const as: oauth.AuthorizationServer = { issuer: ag.url, introspection_endpoint: `${ag.url}/oauth2/introspect` };
    const introspect = async (client: { id: string; secret: string }, token: string) => {
      const c: oauth.Client = { client_id: client.id };
      const response = await oauth.introspectionRequest(as, c, oauth.ClientSecretBasic(client.secret), token, { [oauth.allowInsecureRequests]: true });
      return oauth.processIntrospectionResponse(as, c, response);
    };
    const forTelemetry = await sessionAt(TELEMETRY);
    const forFirmware = await sessionAt(FIRMWARE);
    const forBoth = await sessionAt(FIRMWARE, TELEMETRY);
    expect(await introspect(TELEMETRY_CLIENT, forTelemetry)).toMatchObject({ active: true, aud: [TELEMETRY] });
    expect(await introspect(TELEMETRY_CLIENT, forBoth)).toMatchObject({ active: true, aud: [FIRMWARE, TELEMETRY] });
    expect(await introspect(TELEMETRY_CLIENT, forFirmware)).toEqual({ active: false });
    expect(await introspect(TELEMETRY_CLIENT, (await jwtBearer()).json.access_token as string)).toEqual({ active: false });
    // A client bound to nothing sees every live session, with its audience.
    expect(await introspect(ANY_CLIENT, forFirmware)).toMatchObject({ active: true, aud: [FIRMWARE] });
    expect(await introspect(ANY_CLIENT, (await jwtBearer()).json.access_token as string)).toMatchObject({ active: true, aud: [ag.url] });
  });

  it.each<[string, () => AssetgateGuardOptions]>([
    ['redis', () => ({ mode: 'redis', redis, keyPrefix: ag.prefix, resource: TELEMETRY })],
    [
      'introspection (bound client)',
      () => ({ mode: 'introspection', introspectionEndpoint: `${ag.url}/oauth2/introspect`, clientId: TELEMETRY_CLIENT.id, clientSecret: TELEMETRY_CLIENT.secret, resource: TELEMETRY, cacheTtlMs: 0 }),
    ],
    [
      'introspection (unbound client: the guard checks aud itself)',
      () => ({ mode: 'introspection', introspectionEndpoint: `${ag.url}/oauth2/introspect`, clientId: ANY_CLIENT.id, clientSecret: ANY_CLIENT.secret, resource: TELEMETRY, cacheTtlMs: 0 }),
    ],
  ])('guard library, %s mode: accepts its own sessions, refuses others with 401 invalid_token', async (_, options) => {
    const url = await guarded(options());
    const mine = await bearer(url, await sessionAt(TELEMETRY));
    expect(mine.status).toBe(200);
    expect((mine.json.device as DeviceClaims).aud).toEqual([TELEMETRY]);
    expect((await bearer(url, await sessionAt(ag.url, TELEMETRY))).status).toBe(200);
    for (const token of [await sessionAt(FIRMWARE), (await jwtBearer()).json.access_token as string]) {
      const refused = await bearer(url, token);
      expect(refused.status).toBe(401);
      expect(refused.json.error).toBe('invalid_token');
      expect(refused.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    }
  });

  it('device-wide revocation ends restricted sessions everywhere', async () => {
    const did = `dev-${crypto.randomUUID()}`;
    const token = (await jwtBearer([['resource', TELEMETRY]], { did })).json.access_token as string;
    const url = await guarded({ mode: 'redis', redis, keyPrefix: ag.prefix, resource: TELEMETRY });
    expect((await bearer(url, token)).status).toBe(200);
    await ag.runtime.deps.store.revokeDevice({ iss: issuer.url, subject: did }, Date.now());
    expect((await bearer(url, token)).status).toBe(401);
  });
});

describe('RFC 9728 protected resource metadata', () => {
  it('the built-in resource publishes its metadata, and its challenges name it (resource_metadata)', async () => {
    const response = await oauth.resourceDiscoveryRequest(new URL(ag.url), { [oauth.allowInsecureRequests]: true });
    const metadata = await oauth.processResourceDiscoveryResponse(new URL(ag.url), response);
    expect(metadata).toEqual({
      resource: ag.url,
      authorization_servers: [ag.url],
      bearer_methods_supported: ['header'],
      scopes_supported: ['ingest'],
      dpop_signing_alg_values_supported: ag.config.dpop.algorithms,
      dpop_bound_access_tokens_required: false,
    });
    const param = `resource_metadata="${ag.url}/.well-known/oauth-protected-resource"`;
    const none = await call(`${ag.url}/resource`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe(`Bearer realm="assetgate", ${param}, DPoP realm="assetgate", algs="${ag.config.dpop.algorithms.join(' ')}", ${param}`);
    const refused = await atResource(await sessionAt(TELEMETRY));
    expect(refused.headers.get('www-authenticate')).toMatch(new RegExp(`^Bearer realm="assetgate", error="invalid_token", error_description="[^"]+", ${param.replace(/[.?]/g, '\\$&')}$`));
  });

  it('the authorization server metadata lists the resources sessions are issued for (RFC 9728 §4)', async () => {
    const as = await oauth.processDiscoveryResponse(new URL(ag.url), await oauth.discoveryRequest(new URL(ag.url), { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }));
    expect(as.protected_resources).toEqual([ag.url, TELEMETRY, FIRMWARE]);
  });

  it('with DPoP required everywhere, the metadata says bound tokens are required', async () => {
    const strict = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, PROOF_OF_POSSESSION: 'required' } });
    try {
      const metadata = (await call(`${strict.url}/.well-known/oauth-protected-resource`)).json;
      expect(metadata.dpop_bound_access_tokens_required).toBe(true);
      expect(metadata).not.toHaveProperty('scopes_supported');
    } finally {
      await strict.close();
    }
  });
});

describe('another service with the guard library: discovered, then used, by a strict client', () => {
  let service: { url: string; server: Server };
  let as: Harness;
  beforeAll(async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    service = { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
    as = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, RESOURCE_SERVERS: service.url } });
    const app = new Koa();
    app.use(serveProtectedResourceMetadata({ resource: service.url, authorizationServer: as.url }));
    app.use(assetgateGuard({ mode: 'redis', redis, keyPrefix: as.prefix, resource: service.url, resourceMetadata: resourceMetadataUrl(service.url) }));
    app.use((ctx) => {
      ctx.body = { aud: (ctx.state.device as DeviceClaims).aud };
    });
    server.on('request', app.callback());
  });
  afterAll(async () => {
    service.server.closeAllConnections();
    await new Promise((r) => service.server.close(r));
    await as.close();
  });

  it('challenge -> RFC 9728 metadata -> RFC 8414 metadata -> token for the resource (RFC 8707) -> 200', async () => {
    const insecure = { [oauth.allowInsecureRequests]: true };
    const challenged = await fetch(service.url);
    expect(challenged.status).toBe(401);
    const challenge = challenged.headers.get('www-authenticate')!;
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)![1]!;
    expect(metadataUrl).toBe(`${service.url}/.well-known/oauth-protected-resource`);

    const rs = await oauth.processResourceDiscoveryResponse(new URL(service.url), await oauth.resourceDiscoveryRequest(new URL(service.url), insecure));
    expect(rs).toMatchObject({ resource: service.url, authorization_servers: [as.url], bearer_methods_supported: ['header'] });
    const issuerUrl = new URL(rs.authorization_servers![0]!);
    const server = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, { ...insecure, algorithm: 'oauth2' }));
    expect(server.protected_resources).toContain(service.url);

    const client: oauth.Client = { client_id: 'device' };
    const params = new URLSearchParams([['assertion', await assetToken(issuer, as.tokenEndpoint)], ['resource', service.url]]);
    const tokens = await oauth.processGenericTokenEndpointResponse(
      server,
      client,
      await oauth.genericTokenEndpointRequest(server, client, oauth.None(), JWT_BEARER, params, insecure),
    );
    const ok = await oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(service.url), undefined, undefined, insecure);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ aud: [service.url] });
    // The same session is no credential at assetgate's own routes.
    expect((await call(`${as.url}/resource`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(401);
  });
});
