import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from '../support/redis-server.js';
import { dropPrefix, plainClient, testRedisUrl, uniquePrefix } from '../support/redis.js';

/**
 * A production host: what was built (dist/) plus `npm ci --omit=dev`, so no TypeScript compiler.
 * `npm run migrate` and `npm start` must run what was built, not build again.
 */
const host = mkdtempSync(join(tmpdir(), 'assetgate-host-'));
const children: ChildProcess[] = [];
// No directory of the PATH may offer a tsc of its own.
const PATH = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => dir !== '' && !existsSync(join(dir, 'tsc')))
  .join(delimiter);
const npm = (args: string[], env: Record<string, string> = {}) =>
  spawnSync('npm', args, { cwd: host, env: { PATH, HOME: process.env.HOME ?? '', ...env }, encoding: 'utf8', timeout: 120_000 });

afterAll(() => {
  for (const c of children) if (c.exitCode === null) process.kill(-c.pid!, 'SIGKILL');
  rmSync(host, { recursive: true, force: true });
});

describe('npm start and npm run migrate on a host with production dependencies only', () => {
  it('run what was built, without tsc', async () => {
    for (const f of ['package.json', 'package-lock.json', 'dist']) cpSync(f, join(host, f), { recursive: true });
    const installed = npm(['ci', '--omit=dev', '--ignore-scripts', '--offline', '--no-audit', '--no-fund']);
    expect(installed.status).toBe(0);
    expect(existsSync(join(host, 'node_modules/typescript'))).toBe(false);

    const redis = plainClient();
    const prefix = uniquePrefix();
    try {
      const migrated = npm(['run', 'migrate'], { REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix });
      expect({ status: migrated.status, stderr: migrated.stderr }).toEqual({ status: 0, stderr: '' });
      expect(migrated.stdout).toMatch(/applied migrations/);

      const port = await freePort();
      const child = spawn('npm', ['start'], {
        cwd: host,
        env: { PATH, HOME: process.env.HOME ?? '', PORT: String(port), HOST: '127.0.0.1', REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix, DEV_ISSUER: 'on' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      children.push(child);
      let output = '';
      child.stdout!.on('data', (d) => (output += String(d)));
      child.stderr!.on('data', (d) => (output += String(d)));
      const deadline = Date.now() + 20_000;
      let up = false;
      while (!up && child.exitCode === null && Date.now() < deadline) {
        up = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
        if (!up) await new Promise((r) => setTimeout(r, 100));
      }
      expect({ up, output: up ? '' : output }).toEqual({ up: true, output: '' });
      expect(output).not.toMatch(/tsc/);
      process.kill(-child.pid!, 'SIGTERM');
      await new Promise((r) => child.once('exit', r));
    } finally {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  }, 180_000);
});
