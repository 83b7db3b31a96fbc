import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { postForm, startAssetgate, TestClock } from '../support/harness.js';
import { assetToken, MockIssuer, type JwksMode } from '../support/mock-issuer.js';
import { AttackerServer } from '../support/attack.js';

/**
 * The issuer's JWKS endpoint misbehaving: slow, failing, garbage, enormous, redirecting. Fetches
 * are bounded in time and size and never follow redirects; cached keys keep working; a 503 comes
 * only when no key can be had, and the server recovers by itself once the endpoint does.
 */
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const BAD_MODES: JwksMode[] = ['fail', 'slow', 'garbage', 'huge', 'redirect'];
// The slow mode answers after 3 s: a 503 instead of a 200 proves the 300 ms timeout cut it off.
const ENV = { JWKS_TIMEOUT_MS: '300', JWKS_MAX_BYTES: '65536', JWKS_MAX_AGE_SECONDS: '1', JWKS_COOLDOWN_SECONDS: '0' };

const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function setUp(mode: JwksMode, clock = new TestClock()) {
  const issuer = await MockIssuer.start();
  issuer.mode = mode;
  const ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, ...ENV }, clock });
  cleanup.push(() => issuer.close(), () => ag.close());
  const exchange = async () =>
    postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken(issuer, ag.tokenEndpoint, { nowSeconds: Math.floor(clock.now() / 1000) }) });
  return { issuer, ag, clock, exchange };
}

describe('cold cache, endpoint misbehaving', () => {
  it.each(BAD_MODES)('%s: 503 temporarily_unavailable with Retry-After, then recovery without a restart', async (mode) => {
    const { issuer, clock, exchange } = await setUp(mode);
    const res = await exchange();
    expect(res.status).toBe(503);
    expect(res.json.error).toBe('temporarily_unavailable');
    expect(res.headers.get('retry-after')).toBe('1');
    issuer.mode = 'ok';
    clock.advance(2); // past the cold-cache back-off
    expect((await exchange()).status).toBe(200);
  });
});

describe('warm cache, endpoint misbehaving', () => {
  it.each(BAD_MODES)('%s: cached keys keep working through failed background refreshes', async (mode) => {
    const { issuer, clock, exchange } = await setUp('ok');
    expect((await exchange()).status).toBe(200);
    issuer.mode = mode;
    const before = issuer.requests;
    for (let i = 0; i < 3; i++) {
      clock.advance(5); // keys are stale: each call starts a background refresh, which fails
      expect((await exchange()).status).toBe(200);
      await new Promise((r) => setTimeout(r, mode === 'slow' ? 350 : 50));
    }
    expect(issuer.requests).toBeGreaterThan(before); // refreshes were tried, and failed, and nothing broke
  });
});

describe('fetch boundaries', () => {
  let attacker: AttackerServer;
  let servers: Server[] = [];
  beforeAll(async () => {
    attacker = await AttackerServer.start();
  });
  afterAll(async () => {
    await attacker.close();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    servers = [];
  });

  async function hostile(handler: Parameters<typeof createServer>[1]): Promise<string> {
    const s = createServer(handler);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    servers.push(s);
    return `http://127.0.0.1:${(s.address() as { port: number }).port}`;
  }

  it('never follows a redirect: the redirect target receives no request', async () => {
    const url = await hostile((_req, res) => res.writeHead(302, { location: `${attacker.url}/id/keys` }).end());
    const ag = await startAssetgate({ env: { TRUSTED_ISSUERS: url, ...ENV } });
    cleanup.push(() => ag.close());
    const signer = await MockIssuer.start();
    cleanup.push(() => signer.close());
    const res = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken({ url, keys: signer.keys }, ag.tokenEndpoint) });
    expect(res.status).toBe(503);
    expect(attacker.requests).toEqual([]);
  });

  it('stops reading an endless JWKS stream without Content-Length at the size cap', async () => {
    let written = 0;
    const url = await hostile((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":[],"pad":"');
      const pump = () => {
        // Up to 50 MB, far past the 64 KB cap; stops as soon as the client hangs up.
        while (written < 50 * 1024 * 1024 && !res.destroyed) {
          written += 16 * 1024;
          if (!res.write('x'.repeat(16 * 1024))) return void res.once('drain', pump);
        }
        res.end('"}');
      };
      pump();
    });
    const ag = await startAssetgate({ env: { TRUSTED_ISSUERS: url, ...ENV, JWKS_TIMEOUT_MS: '5000' } });
    cleanup.push(() => ag.close());
    const issuer = await MockIssuer.start();
    cleanup.push(() => issuer.close());
    const res = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken({ url, keys: issuer.keys }, ag.tokenEndpoint) });
    expect(res.status).toBe(503);
    expect(written).toBeLessThan(50 * 1024 * 1024);
  });

  it('refuses JWKS documents that are JSON but not a key set, and keys that are not verification keys', async () => {
    const issuer = await MockIssuer.start();
    cleanup.push(() => issuer.close());
    const docs: unknown[] = [
      [],
      { keys: 'nope' },
      { keys: [{ kid: issuer.keys[0]!.kid }] },
      { keys: [{ ...issuer.keys[0]!.publicJwk, use: 'enc' }] },
      { keys: [{ ...issuer.keys[0]!.publicJwk, key_ops: ['encrypt'] }] },
      { keys: [{ ...issuer.keys[0]!.publicJwk, alg: 'RS512' }] },
      { keys: [{ ...issuer.keys[0]!.publicJwk, kty: 'EC' }] },
      { keys: [{ ...issuer.keys[0]!.publicJwk, n: 'AQAB' }] },
    ];
    for (const doc of docs) {
      const url = await hostile((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc)));
      const ag = await startAssetgate({ env: { TRUSTED_ISSUERS: url, ...ENV } });
      cleanup.push(() => ag.close());
      const res = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken({ url, keys: issuer.keys }, ag.tokenEndpoint) });
      expect([400, 503]).toContain(res.status);
      expect(['invalid_grant', 'temporarily_unavailable']).toContain(res.json.error);
    }
  });
});
