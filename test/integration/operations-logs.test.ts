import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Koa from 'koa';
import { Writable } from 'node:stream';
import { renderErrors } from '../../src/oauth/render-error.js';
import { createLogger } from '../../src/ops/logger.js';
import { call, postForm, startAssetgate } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { RedisServerProcess } from '../support/redis-server.js';
import { ADMIN_API_KEY, JWT_BEARER } from '../support/resource-servers.js';

/** Log lines for operations: what an on-call person reads at the default level. */
type Line = { level: number; msg: string; route?: string; debug?: string; err?: { type?: string; message?: string; stack?: string } };
const parse = (logs: string[]): Line[] => logs.flatMap((l) => l.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as Line);

let issuer: MockIssuer;
beforeAll(async () => {
  issuer = await MockIssuer.start();
});
afterAll(async () => {
  await issuer.close();
});

describe('health probes', () => {
  it('are not logged at info on every probe, and are at debug', async () => {
    for (const [level, expected] of [['info', []], ['debug', [20, 20]]] as const) {
      const ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, LOG_LEVEL: level } });
      try {
        const before = ag.logs.length;
        expect((await call(`${ag.url}/healthz`)).status).toBe(200);
        expect((await call(`${ag.url}/readyz`)).status).toBe(200);
        expect((await call(`${ag.url}/resource`)).status).toBe(401);
        const lines = parse(ag.logs.slice(before)).filter((l) => l.msg === 'request');
        expect(lines.filter((l) => l.route === '/healthz' || l.route === '/readyz').map((l) => l.level)).toEqual(expected);
        expect(lines.filter((l) => l.route === '/resource').map((l) => l.level)).toEqual([30]);
      } finally {
        await ag.close();
      }
    }
  });
});

describe('refusals', () => {
  it('log their reason without an empty detail after it (device_blocked)', async () => {
    const ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, ADMIN_API_KEY } });
    try {
      const did = `dev-${crypto.randomUUID()}`;
      const old = await assetToken(issuer, ag.tokenEndpoint, { claims: { did } });
      const revoked = await call(`${ag.url}/admin/devices/${did}/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ block_asset_tokens_issued_before: 'now' }),
      });
      expect(revoked.status).toBe(200);
      const before = ag.logs.length;
      expect((await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: old })).json.error).toBe('invalid_grant');
      const debug = parse(ag.logs.slice(before)).filter((l) => l.route === '/oauth2/token').map((l) => l.debug);
      expect(debug).toEqual([expect.stringMatching(/^device_blocked/)]);
      expect(debug[0]).not.toMatch(/: *$/);
    } finally {
      await ag.close();
    }
  });
});

describe('errors', () => {
  it('an unexpected one is logged with its real type, message and stack (never "Object" with an empty stack)', async () => {
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logs.push(String(chunk));
        cb();
      },
    });
    const app = new Koa();
    app.use(renderErrors(createLogger('info', sink)));
    app.use(() => {
      throw new TypeError('cannot read the thing');
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
      expect(res.status).toBe(500);
      expect(await res.text()).not.toMatch(/cannot read the thing/);
      const [line] = parse(logs).filter((l) => l.level === 50);
      expect(line?.err).toEqual(expect.objectContaining({ type: 'TypeError', message: 'cannot read the thing', stack: expect.stringMatching(/^TypeError: cannot read the thing\n\s+at /) }));
    } finally {
      server.close();
    }
  });

  it('Redis failures are logged with their type, message and stack', async () => {
    const redis = await RedisServerProcess.start();
    const ag = await startAssetgate({ redisUrl: redis.url, env: { TRUSTED_ISSUERS: issuer.url } });
    try {
      const before = ag.logs.length;
      await redis.stop();
      const exchange = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken(issuer, ag.tokenEndpoint) });
      expect(exchange.status).toBe(503);
      // The client reports its failed reconnection attempts as they happen.
      const deadline = Date.now() + 10_000;
      while (!ag.logs.slice(before).some((l) => l.includes('redis connection error')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const lines = parse(ag.logs.slice(before)).filter((l) => l.err !== undefined);
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) {
        expect(l.err!.type).not.toBe('Object');
        expect(l.err!.message).toBeTruthy();
        expect(l.err!.stack).toMatch(/\n\s+at /);
      }
      expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['redis connection error']));
    } finally {
      await ag.close().catch(() => undefined);
      await redis.stop();
    }
  });
});
