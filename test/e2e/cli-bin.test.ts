import { existsSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freePort } from '../support/redis-server.js';

/**
 * The built `assetgate` bin and `npm start` entry as processes: `tsc` once, then real node processes
 * (the in-process CLI tests cover the commands in depth).
 */
const BIN = 'dist/src/cli/assetgate.js';
const SERVER = 'dist/src/server.js';

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 30_000 });
}

/** Starts a server process and resolves once it logged that it listens. */
function startProcess(args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('assetgate listening')) resolve({ child, output: () => text });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited ${code} before listening: ${text}`)));
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

// dist/ is built once per run by the jest global setup (test/support/global-setup.js).
beforeAll(() => {
  expect(existsSync('dist/src/cli/assetgate.js')).toBe(true);
});

describe('the assetgate bin', () => {
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child) await stop(child);
  });

  it('serves (development issuer), mints with `dev token`, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const server = await startProcess([BIN, 'serve'], { PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'development' });
    child = server.child;
    // stdout is a pipe, not a terminal: JSON lines even in development.
    const firstLine = server.output().split('\n')[0]!;
    expect(() => JSON.parse(firstLine)).not.toThrow();

    const minted = run([BIN, 'dev', 'token', '--did', 'bin-device'], { ASSETGATE_URL: `http://127.0.0.1:${port}` });
    expect(minted.status).toBe(0);
    expect(minted.stdout.trim().split('.')).toHaveLength(3);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);

    expect(await stop(child)).toBe(0);
    child = undefined;
  });

  it('refuses a bad configuration file with exit 2, naming the file and path', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'assetgate-bin-')), 'bad.json');
    writeFileSync(path, JSON.stringify({ issuers: [{ issuer: 'https://a.example.com', audiences: [] }] }));
    const res = run([BIN, 'serve', '--config', path]);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain(`${path}: issuers[0].audiences: expected at least one audience`);
  });

  it('exits 0 on --help and 2 on an unknown command', () => {
    expect(run([BIN, '--help']).status).toBe(0);
    expect(run([BIN, 'nope']).status).toBe(2);
  });
});

describe('npm start entry (dist/src/server.js)', () => {
  it('still starts on its own, reading ASSETGATE_CONFIG', async () => {
    const port = await freePort();
    const path = join(mkdtempSync(join(tmpdir(), 'assetgate-bin-')), 'c.yaml');
    writeFileSync(path, `settings:\n  PORT: ${port}\n  HOST: 127.0.0.1\n`);
    const server = await startProcess([SERVER], { ASSETGATE_CONFIG: path });
    try {
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      expect(await stop(server.child)).toBe(0);
    }
  });
});
