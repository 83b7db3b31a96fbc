import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Validator } from '@seriousme/openapi-schema-validator';
import * as oauth from 'oauth4webapi';
import type { OpenAPIObject } from 'openapi3-ts/oas31';
import { PATHS } from '../../src/oauth/constants.js';
import { call, form, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { conformanceChecker, type ObservedResponse } from '../support/openapi-conformance.js';
import { ADMIN_API_KEY, basic, INTROSPECTION_CLIENTS, JWT_BEARER, RS, rsAuth, sessionFor } from '../support/resource-servers.js';

let issuer: MockIssuer;
let ag: Harness;

beforeAll(async () => {
  issuer = await MockIssuer.start();
  ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, INTROSPECTION_CLIENTS, ADMIN_API_KEY, SUPPORTED_SCOPES: 'ingest read' } });
});
afterAll(async () => {
  await ag.close();
  await issuer.close();
});

describe('GET /.well-known/oauth-authorization-server (RFC 8414)', () => {
  it('publishes the endpoints, grant types and client authentication methods', async () => {
    const res = await call(`${ag.url}/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.json).toEqual({
      issuer: ag.url,
      dpop_signing_alg_values_supported: ['ES256', 'RS256', 'PS256', 'EdDSA'],
      token_endpoint: `${ag.url}/oauth2/token`,
      introspection_endpoint: `${ag.url}/oauth2/introspect`,
      revocation_endpoint: `${ag.url}/oauth2/revoke`,
      response_types_supported: [],
      grant_types_supported: [JWT_BEARER, 'urn:ietf:params:oauth:grant-type:token-exchange'],
      token_endpoint_auth_methods_supported: ['none'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      scopes_supported: ['ingest', 'read'],
      protected_resources: [ag.url],
    });
  });

  it('is usable by a strict client: discovery, then introspection from the discovered endpoint', async () => {
    const issuerUrl = new URL(ag.url);
    const response = await oauth.discoveryRequest(issuerUrl, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true });
    const as = await oauth.processDiscoveryResponse(issuerUrl, response);
    expect(as.introspection_endpoint).toBe(`${ag.url}/oauth2/introspect`);
    const token = await sessionFor(ag, issuer);
    const client: oauth.Client = { client_id: RS.id };
    const introspection = await oauth.introspectionRequest(as, client, oauth.ClientSecretBasic(RS.secret), token, { [oauth.allowInsecureRequests]: true });
    expect((await oauth.processIntrospectionResponse(as, client, introspection)).active).toBe(true);
  });

  it('lists introspection and revocation only when clients are configured', async () => {
    const bare = await startAssetgate({ store: 'memory', env: { TRUSTED_ISSUERS: issuer.url } });
    try {
      const res = await call(`${bare.url}/.well-known/oauth-authorization-server`);
      expect(res.json.issuer).toBe(bare.url);
      expect(res.json).not.toHaveProperty('introspection_endpoint');
      expect(res.json).not.toHaveProperty('revocation_endpoint');
      expect(res.json).not.toHaveProperty('scopes_supported');
      // The endpoint exists but nobody can authenticate to it.
      const introspect = await call(`${bare.url}/oauth2/introspect`, { ...form({ token: 'x' }), headers: { ...form({}).headers, ...rsAuth } });
      expect(introspect.status).toBe(401);
    } finally {
      await bare.close();
    }
  });
});

describe('GET /openapi.json (OpenAPI 3.1)', () => {
  let doc: OpenAPIObject;
  beforeAll(async () => {
    const res = await call(`${ag.url}/openapi.json`);
    expect(res.status).toBe(200);
    doc = res.json as unknown as OpenAPIObject;
  });

  it('is a valid OpenAPI 3.1 document that names every route of the app', async () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers?.[0]?.url).toBe(ag.url);
    const result = await new Validator().validate(doc as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const templates = Object.values(PATHS).map((p) => p.replace(/:(\w+)/g, '{$1}'));
    for (const template of templates.filter((t) => t !== PATHS.devIssuer)) expect(Object.keys(doc.paths ?? {})).toContain(template);
    expect(Object.keys(doc.paths ?? {})).toEqual(expect.arrayContaining([`${PATHS.devIssuer}/id/keys`, `${PATHS.devIssuer}/asset-tokens`]));
  });

  it('describes the real responses of every endpoint (conformance)', async () => {
    const problemsOf = conformanceChecker(doc);
    const observed: ObservedResponse[] = [];
    const record = async (method: 'get' | 'post', path: string, url: string, init: RequestInit = {}) => {
      const res = await fetch(url, { method: method.toUpperCase(), ...init });
      const text = await res.text();
      observed.push({ method, path, status: res.status, contentType: res.headers.get('content-type'), text });
      return { status: res.status, text };
    };
    const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) => {
      const f = form(fields);
      return record('post', path, `${ag.url}${path}`, { body: f.body, headers: { ...f.headers, ...headers } });
    };
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const mint = (claims: Record<string, unknown> = {}) => assetToken(issuer, ag.tokenEndpoint, { claims });

    // Token endpoint: both grants, errors.
    const issued = await post(PATHS.token, { grant_type: JWT_BEARER, assertion: await mint(), scope: 'ingest' });
    const token = (JSON.parse(issued.text) as { access_token: string }).access_token;
    await post(PATHS.token, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: await mint(),
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    });
    await post(PATHS.token, { grant_type: 'password' });
    await post(PATHS.token, { grant_type: JWT_BEARER, assertion: await mint(), resource: 'https://unknown.example' });
    await record('post', PATHS.token, `${ag.url}${PATHS.token}`, { headers: { 'content-type': 'application/json' }, body: '{}' });
    await post(PATHS.token, { grant_type: JWT_BEARER, assertion: 'x'.repeat(70 * 1024) });

    // Introspection and revocation.
    await post(PATHS.introspect, { token }, rsAuth);
    await post(PATHS.introspect, { token: 'nope' }, rsAuth);
    await post(PATHS.introspect, { token }, { authorization: basic(RS.id, 'wrong-secret-0123456789') });
    await post(PATHS.introspect, {}, rsAuth);

    // Resources.
    await record('get', PATHS.resource, `${ag.url}${PATHS.resource}`, { headers: bearer(token) });
    await record('get', PATHS.resource, `${ag.url}${PATHS.resource}`);
    await record('get', PATHS.resource, `${ag.url}${PATHS.resource}`, { headers: { authorization: 'Bearer' } });
    await record('get', PATHS.resource, `${ag.url}${PATHS.resource}`, { headers: bearer('AAAAAAAAAAAA.' + 'B'.repeat(43)) });
    await record('post', PATHS.ingest, `${ag.url}${PATHS.ingest}`, { headers: { ...bearer(token), 'content-type': 'application/json' }, body: '{"t":1}' });
    await record('post', PATHS.ingest, `${ag.url}${PATHS.ingest}`, { headers: { ...bearer(token), 'content-type': 'text/plain' }, body: 'x' });

    // Revocation after use.
    await post(PATHS.revoke, { token }, rsAuth);
    await post(PATHS.revoke, { token }, {});
    await post(PATHS.revoke, {}, rsAuth);

    // Admin.
    const admin = '/admin/devices/{did}/revoke';
    const adminUrl = `${ag.url}/admin/devices/conformance-device/revoke`;
    const adminKey = { authorization: `Bearer ${ADMIN_API_KEY}` };
    await record('post', admin, adminUrl, { headers: adminKey });
    await record('post', admin, adminUrl, { headers: { ...adminKey, 'content-type': 'application/json' }, body: '{"block_asset_tokens_issued_before":"now"}' });
    await record('post', admin, adminUrl, { headers: { ...adminKey, 'content-type': 'application/json' }, body: '{"x":1}' });
    await record('post', admin, adminUrl, { headers: { ...adminKey, 'content-type': 'text/plain' }, body: 'x' });
    await record('post', admin, adminUrl);
    await record('post', admin, adminUrl, { headers: { authorization: 'Bearer wrong' } });

    // Discovery and operations.
    await record('get', PATHS.metadata, `${ag.url}${PATHS.metadata}`);
    await record('get', PATHS.protectedResource, `${ag.url}${PATHS.protectedResource}`);
    await record('get', PATHS.openapi, `${ag.url}${PATHS.openapi}`);
    await record('get', PATHS.healthz, `${ag.url}${PATHS.healthz}`);
    await record('get', PATHS.readyz, `${ag.url}${PATHS.readyz}`);

    // The development issuer of an instance without TRUSTED_ISSUERS.
    const dev = await startAssetgate({ store: 'memory' });
    try {
      await record('get', `${PATHS.devIssuer}/id/keys`, `${dev.url}${PATHS.devIssuer}/id/keys`);
      await record('post', `${PATHS.devIssuer}/asset-tokens`, `${dev.url}${PATHS.devIssuer}/asset-tokens`, {
        headers: { 'content-type': 'application/json' },
        body: '{"did":"dev-1"}',
      });
      await record('post', `${PATHS.devIssuer}/asset-tokens`, `${dev.url}${PATHS.devIssuer}/asset-tokens`, {
        headers: { 'content-type': 'application/json' },
        body: '{"ttl":-1}',
      });
    } finally {
      await dev.close();
    }

    const statuses = observed.map((o) => `${o.method} ${o.path} ${o.status}`);
    // Every shape above was actually produced (guards against a silently changed scenario).
    expect(statuses).toEqual(
      expect.arrayContaining([
        `post ${PATHS.token} 200`,
        `post ${PATHS.token} 400`,
        `post ${PATHS.token} 413`,
        `post ${PATHS.introspect} 200`,
        `post ${PATHS.introspect} 401`,
        `post ${PATHS.introspect} 400`,
        `get ${PATHS.resource} 200`,
        `get ${PATHS.resource} 401`,
        `get ${PATHS.resource} 400`,
        `post ${PATHS.ingest} 202`,
        `post ${PATHS.ingest} 415`,
        `post ${PATHS.revoke} 200`,
        `post ${PATHS.revoke} 401`,
        `post ${PATHS.revoke} 400`,
        `post ${admin} 200`,
        `post ${admin} 400`,
        `post ${admin} 401`,
        `post ${admin} 415`,
        `get ${PATHS.metadata} 200`,
        `get ${PATHS.openapi} 200`,
        `get ${PATHS.readyz} 200`,
        `post ${PATHS.devIssuer}/asset-tokens 200`,
        `post ${PATHS.devIssuer}/asset-tokens 400`,
      ]),
    );
    expect(observed.flatMap(problemsOf)).toEqual([]);
  });

  it('catches a response that breaks the document (the checker is not a no-op)', () => {
    const problemsOf = conformanceChecker(doc);
    const text = JSON.stringify({ active: true, sub: 'x' });
    expect(problemsOf({ method: 'post', path: PATHS.introspect, status: 200, contentType: 'application/json', text }).length).toBeGreaterThan(0);
    expect(problemsOf({ method: 'post', path: PATHS.introspect, status: 200, contentType: 'application/json', text: '{"active":false,"sub":"x"}' }).length).toBeGreaterThan(0);
    expect(problemsOf({ method: 'post', path: PATHS.introspect, status: 418, contentType: 'application/json', text: '{}' })).toEqual([
      `POST ${PATHS.introspect} -> 418: status not documented`,
    ]);
  });
});
