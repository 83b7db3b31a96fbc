import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { IngestLayout } from '../../src/ingest/partitions.js';
import { freePort } from '../support/redis-server.js';
import { SERVER_ENTRY, startServerProcess, stopAll, type ServerProcess } from '../support/server-process.js';
import { plainClient, testRedisUrl, uniquePrefix, dropPrefix, migratedPrefix } from '../support/redis.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';

/** The real server process (dist/, built by the jest global setup), driven over HTTP like a user would. */
const ENTRY = SERVER_ENTRY;
const startServer = (env: Record<string, string>): Promise<ServerProcess> => startServerProcess(() => env);

/** WORKERS=2 against the test Redis and a mock issuer; resolves once both workers announced themselves. */
async function startTwoWorkers(issuer: MockIssuer, prefix: string): ReturnType<typeof startServer> {
  const server = await startServer({
    WORKERS: '2',
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: prefix,
    TRUSTED_ISSUERS: issuer.url,
    TOKEN_AUDIENCES: 'https://assetgate.example',
  });
  // The second worker may still be starting when the first answers.
  const listeningPids = () => new Set([...server.output().matchAll(/"pid":(\d+)[^\n]*assetgate listening/g)].map((m) => m[1]));
  const deadline = Date.now() + 15_000;
  while (listeningPids().size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(listeningPids().size).toBe(2);
  return server;
}

afterAll(stopAll);

describe('the server process', () => {
  it('is built', () => {
    expect(existsSync(ENTRY)).toBe(true);
  });

  it('runs the whole flow on a fresh machine with the embedded defaults, warning loudly', async () => {
    const { url, child, output, exited } = await startServer({});
    const minted = (await (await fetch(`${url}/dev-issuer/asset-tokens`, { method: 'POST' })).json()) as { asset_token: string };
    expect(minted.asset_token.split('.')).toHaveLength(3);

    const exchange = await fetch(`${url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: minted.asset_token }),
    });
    expect(exchange.status).toBe(200);
    const { access_token } = (await exchange.json()) as { access_token: string };
    const resource = await fetch(`${url}/resource`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(resource.status).toBe(200);

    const second = (await (await fetch(`${url}/dev-issuer/asset-tokens`, { method: 'POST' })).json()) as { asset_token: string };
    const ingest = await fetch(`${url}/ingestapi`, {
      method: 'POST',
      headers: { authorization: `Bearer ${second.asset_token}`, 'content-type': 'application/json' },
      body: '{"some":"data"}',
    });
    expect(ingest.status).toBe(202);

    expect(output()).toMatch(/IN-MEMORY store/);
    expect(output()).toMatch(/DEVELOPMENT issuer/);
    // no token or assertion in the logs
    expect(output()).not.toContain(access_token);
    expect(output()).not.toContain(minted.asset_token.split('.')[2]);

    child.kill('SIGTERM');
    const code = await exited;
    expect(code).toBe(0);
    expect(output()).toMatch(/stopped/);
  });

  it('stops at start with one clear line on bad configuration', () => {
    const result = spawnSync(process.execPath, [ENTRY], { env: { PATH: process.env.PATH, CLOCK_SKEW_SECONDS: 'soon' }, encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/CLOCK_SKEW_SECONDS/);
  });

  it('refuses to start in production without trusted issuers', () => {
    const result = spawnSync(process.execPath, [ENTRY], { env: { PATH: process.env.PATH, NODE_ENV: 'production' }, encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/TRUSTED_ISSUERS: required in production/);
  });

  it('refuses a Redis keyspace that is not migrated, and starts once `migrate` ran', async () => {
    const prefix = uniquePrefix();
    const env = { REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix, DEV_ISSUER: 'on' };
    const refused = spawnSync(process.execPath, [ENTRY], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/run `npm run migrate`/);
    const migrated = spawnSync(process.execPath, ['dist/src/cli/migrate.js'], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
    expect(migrated.status).toBe(0);
    expect(migrated.stdout).toMatch(/applied migrations 1, 2, 3, 4/);
    const redis = plainClient();
    try {
      const partitions = new IngestLayout(prefix, 'ingest', 16).partitions;
      for (const p of partitions) expect(await redis.xinfo('GROUPS', p.stream)).toHaveLength(1);
      const { child, exited } = await startServer(env);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });

  it('runs WORKERS=2 processes on one port, and stops them all on SIGTERM', async () => {
    const issuer = await MockIssuer.start();
    const redis = plainClient();
    const prefix = await migratedPrefix(redis);
    try {
      const { url, child, output, exited } = await startTwoWorkers(issuer, prefix);
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${url}/oauth2/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
            assertion: await assetToken(issuer, 'https://assetgate.example'),
          }),
        });
        expect(res.status).toBe(200);
      }
      expect(output()).toMatch(/primary started workers/);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output()).toMatch(/all workers stopped/);
    } finally {
      await dropPrefix(redis, prefix);
      redis.disconnect();
      await issuer.close();
    }
  });

  it('answers /metrics for all WORKERS=2 processes: totals of both, never falling between scrapes', async () => {
    const issuer = await MockIssuer.start();
    const redis = plainClient();
    const prefix = await migratedPrefix(redis);
    try {
      const { url, child, exited } = await startTwoWorkers(issuer, prefix);
      // One connection per request: the primary hands connections to the workers in turn.
      const once = (path: string, body?: string) =>
        new Promise<{ status: number; text: string }>((resolve, reject) => {
          const req = httpRequest(`${url}${path}`, { method: body ? 'POST' : 'GET', agent: false, headers: body ? { 'content-type': 'application/x-www-form-urlencoded' } : {} }, (res) => {
            let text = '';
            res.on('data', (d) => (text += String(d)));
            res.on('end', () => resolve({ status: res.statusCode!, text }));
          });
          req.on('error', reject);
          req.end(body);
        });
      for (let i = 0; i < 6; i++) {
        const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: await assetToken(issuer, 'https://assetgate.example') });
        expect((await once('/oauth2/token', form.toString())).status).toBe(200);
      }
      const value = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}"/.]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');
      const issued = [];
      const scrapes = [];
      for (let i = 0; i < 6; i++) {
        const { status, text } = await once('/metrics');
        expect(status).toBe(200);
        issued.push(value(text, 'assetgate_token_exchanges_total{grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",outcome="issued"}'));
        scrapes.push(value(text, 'assetgate_http_requests_total{route="/metrics",method="GET",outcome="ok"}') || 0);
      }
      expect(issued).toEqual([6, 6, 6, 6, 6, 6]);
      // Each scrape is counted once it is answered: the next one sees it, whichever worker took it.
      expect(scrapes).toEqual([0, 1, 2, 3, 4, 5]);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      await dropPrefix(redis, prefix);
      redis.disconnect();
      await issuer.close();
    }
  });

  describe('with WORKERS=2, a start that fails ends the process non-zero with the reason', () => {
    /** Runs the server until it exits (or 20 s pass: the failure was not noticed, a restart loop). */
    function runToExit(env: Record<string, string>) {
      return spawnSync(process.execPath, [ENTRY], {
        env: { PATH: process.env.PATH, HOST: '127.0.0.1', WORKERS: '2', REDIS_URL: testRedisUrl(), TRUSTED_ISSUERS: 'http://127.0.0.1:9', ...env },
        encoding: 'utf8',
        timeout: 20_000,
      });
    }

    it('on a keyspace that is not migrated', async () => {
      const result = runToExit({ PORT: String(await freePort()), REDIS_KEY_PREFIX: uniquePrefix() });
      expect(result.signal).toBeNull();
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/run `npm run migrate`/);
      expect(result.stdout).toMatch(/a worker failed to start/);
      expect(result.stdout).not.toMatch(/starting another/);
    });

    it('on a port in use', async () => {
      const redis = plainClient();
      const prefix = await migratedPrefix(redis);
      const taken = createServer();
      const port = await freePort();
      await new Promise<void>((r) => taken.listen(port, '127.0.0.1', r));
      try {
        const result = runToExit({ PORT: String(port), REDIS_KEY_PREFIX: prefix });
        expect(result.signal).toBeNull();
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
        expect(result.stdout).not.toMatch(/starting another/);
      } finally {
        taken.close();
        await dropPrefix(redis, prefix);
        redis.disconnect();
      }
    });
  });

  it('refuses WORKERS>1 with the in-memory store', () => {
    const result = spawnSync(process.execPath, [ENTRY], { env: { PATH: process.env.PATH, WORKERS: '2' }, encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^assetgate: configuration error: WORKERS: /);
  });
});
