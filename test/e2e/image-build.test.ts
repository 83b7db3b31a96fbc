import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildContext, dockerignore, emulateBuild, type Stage } from '../support/image-build.js';
import { MockIssuer } from '../support/mock-issuer.js';
import { freePort } from '../support/redis-server.js';
import { dropPrefix, plainClient, testRedisUrl, uniquePrefix } from '../support/redis.js';

/**
 * The Dockerfile, built the way `docker build` would build it but without a container engine: only
 * what .dockerignore lets into the context and what each COPY takes is there when the build stage's
 * RUN steps run (npm ci from the local npm cache). The image must then start from its CMD and pass
 * its own HEALTHCHECK.
 */
const work = mkdtempSync(join(tmpdir(), 'assetgate-image-'));
const children: ChildProcess[] = [];
let stages: Stage[] = [];
let image: Stage;

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

describe('.dockerignore matching', () => {
  const ignored = dockerignore('*\n!src\n!package.json\nsrc/**/*.test.ts\n');
  it('follows Docker: parents match, the last pattern wins, ** crosses directories', () => {
    expect(ignored('test/unit/x.test.ts')).toBe(true);
    expect(ignored('.env')).toBe(true);
    expect(ignored('package.json')).toBe(false);
    expect(ignored('src/app.ts')).toBe(false);
    expect(ignored('src/ops/a.test.ts')).toBe(true);
  });
});

describe('the container image, built from what the Dockerfile copies', () => {
  beforeAll(() => {
    const context = join(work, 'context');
    buildContext(process.cwd(), context);
    stages = emulateBuild(context, readFileSync('Dockerfile', 'utf8'), join(work, 'fs'), {
      runEnv: { npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' },
    });
    image = stages[stages.length - 1]!;
  }, 300_000);

  it('has a supported Node LTS base image in every stage', () => {
    for (const s of stages) expect(s.base).toMatch(/^node:(22|24)[.-]/);
  });

  it('carries the entry point, production dependencies only, and no sources or tests', () => {
    const app = join(image.root, image.workdir);
    expect(image.cmd).toEqual(['node', 'dist/src/server.js']);
    expect(existsSync(join(app, 'dist/src/server.js'))).toBe(true);
    expect(existsSync(join(app, 'dist/src/cli/migrate.js'))).toBe(true);
    expect(existsSync(join(app, 'node_modules/koa'))).toBe(true);
    expect(existsSync(join(app, 'node_modules/typescript'))).toBe(false);
    expect(existsSync(join(app, 'src'))).toBe(false);
    expect(existsSync(join(app, 'dist/test'))).toBe(false);
    expect(image.env).toEqual(expect.objectContaining({ NODE_ENV: 'production', HOST: '0.0.0.0' }));
  });

  it('runs the CLI (--help) from the image', () => {
    const result = spawnSync('node', ['dist/src/cli/assetgate.js', '--help'], { cwd: join(image.root, image.workdir), env: { PATH: process.env.PATH, ...image.env }, encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/serve/);
  });

  it('migrates, starts from its CMD in production and passes its own HEALTHCHECK on /healthz', async () => {
    expect(image.healthcheck?.join(' ')).toMatch(/\/healthz/);
    const cwd = join(image.root, image.workdir);
    const issuer = await MockIssuer.start();
    const redis = plainClient();
    const prefix = uniquePrefix();
    const port = await freePort();
    const env = {
      PATH: process.env.PATH,
      ...image.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: 'https://assetgate.example',
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
      TRUSTED_ISSUERS: issuer.url,
      WORKERS: '1',
    };
    try {
      const migrated = spawnSync('node', ['dist/src/cli/migrate.js'], { cwd, env, encoding: 'utf8' });
      expect(migrated.stderr).toBe('');
      expect(migrated.status).toBe(0);
      const [command, ...args] = image.cmd!;
      const child = spawn(command!, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let output = '';
      child.stdout!.on('data', (d) => (output += String(d)));
      child.stderr!.on('data', (d) => (output += String(d)));
      const deadline = Date.now() + 20_000;
      let healthy = false;
      while (!healthy && Date.now() < deadline && child.exitCode === null) {
        const [hc, ...hcArgs] = image.healthcheck!;
        healthy = spawnSync(hc!, hcArgs, { cwd, env, timeout: 5000 }).status === 0;
        if (!healthy) await new Promise((r) => setTimeout(r, 200));
      }
      expect({ healthy, output: healthy ? '' : output }).toEqual({ healthy: true, output: '' });
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      child.kill('SIGTERM');
      expect(await new Promise((r) => child.once('exit', r))).toBe(0);
    } finally {
      await dropPrefix(redis, prefix);
      redis.disconnect();
      await issuer.close();
    }
  }, 60_000);

});
