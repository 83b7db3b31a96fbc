import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { createApp } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import { loadConfig, type Config } from '../../src/config.js';
import { buildRuntime, type Runtime } from '../../src/deps.js';
import { createHttpServer } from '../../src/ops/http-server.js';
import { createLogger } from '../../src/ops/logger.js';
import { dropPrefix, migratedPrefix, plainClient, testRedisUrl, uniquePrefix } from './redis.js';

/** A settable clock for tests (milliseconds). */
export class TestClock implements Clock {
  constructor(public ms = Date.now()) {}
  now(): number {
    return this.ms;
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export interface Harness {
  url: string;
  config: Config;
  runtime: Runtime;
  server: Server;
  redis: Redis | undefined;
  prefix: string;
  logs: string[];
  tokenEndpoint: string;
  close(): Promise<void>;
}

export interface HarnessOptions {
  env?: Record<string, string | undefined>;
  clock?: Clock;
  /** 'redis' (default): the suite's Redis under a fresh prefix; 'memory': the embedded store. */
  store?: 'redis' | 'memory';
  redisUrl?: string;
  prefix?: string;
}

/**
 * Failed-exchange limits are off unless a test turns them on: suites run many failures from one
 * loopback address on purpose (test/attack/rate-limit.test.ts covers the limits).
 */
const testDefaults = { RATE_LIMIT_FAILED_PER_IP: '0', RATE_LIMIT_FAILED_PER_DEVICE: '0' };

/** An assetgate app in-process on a free loopback port, over real HTTP, with a real Redis. */
export async function startAssetgate(options: HarnessOptions = {}): Promise<Harness> {
  // The HTTP limits are needed before the port (and so the full config) is known.
  const server = createHttpServer(loadConfig({ NODE_ENV: 'test', ...testDefaults, ...options.env }).http);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  const useRedis = (options.store ?? 'redis') === 'redis';
  const redisUrl = options.redisUrl ?? testRedisUrl();
  const admin = useRedis ? plainClient(redisUrl) : undefined;
  const prefix = admin ? await migratedPrefix(admin, options.prefix ?? uniquePrefix()) : '';
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    PUBLIC_URL: url,
    LOG_LEVEL: 'info',
    ...testDefaults,
    ...(useRedis ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix } : {}),
    ...options.env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const runtime = await buildRuntime(config, createLogger(config.logLevel, sink), options.clock);
  const app = createApp(runtime.deps);
  server.on('request', app.callback());
  return {
    url,
    config,
    runtime,
    server,
    redis: admin,
    prefix,
    logs,
    tokenEndpoint: `${url}/oauth2/token`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await runtime.close();
      if (admin) {
        await dropPrefix(admin, prefix).catch(() => undefined);
        admin.disconnect();
      }
    },
  };
}

export const form = (fields: Record<string, string>): { method: string; headers: Record<string, string>; body: string } => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
  body: new URLSearchParams(fields).toString(),
});

export async function postForm(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  const f = form(fields);
  const res = await fetch(url, { ...f, headers: { ...f.headers, ...headers } });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, json, text };
}

export async function call(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, json, text };
}
