import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ConfigLayer } from '../../src/config.js';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { JWT_BEARER } from '../support/resource-servers.js';

/**
 * Attack: a resource server bound to one resource (introspection_clients[].resource) revokes the
 * sessions of another resource server's devices. Introspection already tells such a client
 * `active: false` for those sessions; revocation must not let it end them either.
 */
const TELEMETRY = 'https://telemetry.example/v1';
const FIRMWARE = 'https://firmware.example';
const TELEMETRY_CLIENT = { id: 'telemetry-rs', secret: 'telemetry-secret-0123456789', resource: TELEMETRY };
const ANY_CLIENT = { id: 'any-rs', secret: 'any-rs-secret-0123456789' };

let issuer: MockIssuer;
let ag: Harness;

const layer = (iss: string): ConfigLayer => ({
  source: 'cross-resource.yaml',
  settings: {},
  issuers: [{ issuer: iss }],
  introspectionClients: [TELEMETRY_CLIENT, ANY_CLIENT],
  resourceServers: [
    { resource: TELEMETRY, name: 'telemetry' },
    { resource: FIRMWARE, name: 'firmware' },
  ],
});

beforeAll(async () => {
  issuer = await MockIssuer.start();
  ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url }, layer: layer(issuer.url) });
});
afterAll(async () => {
  await ag.close();
  await issuer.close();
});

const sessionAt = async (resource: string): Promise<string> => {
  const r = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken(issuer, ag.tokenEndpoint), resource });
  expect(r.status).toBe(200);
  return r.json.access_token as string;
};
const basic = (c: { id: string; secret: string }) => ({ authorization: `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}` });
const revoke = (c: { id: string; secret: string }, token: string) => postForm(`${ag.url}/oauth2/revoke`, { token }, basic(c));
const introspect = async (c: { id: string; secret: string }, token: string) => (await postForm(`${ag.url}/oauth2/introspect`, { token }, basic(c))).json;

describe('revocation by a resource server bound to another resource', () => {
  it("leaves another resource's session alive, and answers as for a token it does not know (RFC 7009 §2.2)", async () => {
    const firmwareSession = await sessionAt(FIRMWARE);
    const res = await revoke(TELEMETRY_CLIENT, firmwareSession);
    // The same answer as for an unknown token: the bound client learns nothing of the session.
    expect(res.status).toBe(200);
    expect(await introspect(ANY_CLIENT, firmwareSession)).toMatchObject({ active: true, aud: [FIRMWARE] });
  });

  it('still revokes its own sessions, and an unbound client revokes any', async () => {
    const telemetrySession = await sessionAt(TELEMETRY);
    expect((await revoke(TELEMETRY_CLIENT, telemetrySession)).status).toBe(200);
    expect(await introspect(ANY_CLIENT, telemetrySession)).toEqual({ active: false });

    const firmwareSession = await sessionAt(FIRMWARE);
    expect((await revoke(ANY_CLIENT, firmwareSession)).status).toBe(200);
    expect(await introspect(ANY_CLIENT, firmwareSession)).toEqual({ active: false });
    const resource = await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${firmwareSession}` } });
    expect(resource.status).toBe(401);
  });
});
