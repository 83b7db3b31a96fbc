import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import { createApp } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import { loadConfig, type Config, type ConfigLayer } from '../../src/config.js';
import { buildRuntime, type Runtime } from '../../src/deps.js';
import { createHttpServer } from '../../src/ops/http-server.js';
import { createLogger } from '../../src/ops/logger.js';
import type { RedisConnection } from '../../src/tokens/redis-client.js';
import { dropPrefix, migratedPrefix, plainClient, testAdminClient, testRedisEnv, uniquePrefix } from './redis.js';

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
  redis: RedisConnection | undefined;
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
  /** Another topology: the env that selects it (e.g. REDIS_CLUSTER_NODES) and an admin connection to it. */
  topology?: { env: Record<string, string>; admin: () => RedisConnection };
  prefix?: string;
  /** A configuration file layer under the env (see src/config-file.ts readConfigFile). */
  layer?: ConfigLayer;
}

/**
 * Failed-exchange limits are off unless a test turns them on: suites run many failures from one
 * loopback address on purpose (test/attack/rate-limit.test.ts covers the limits). So are the
 * per-device ingest limits: load tests send from one device (test/integration/ingest.test.ts covers them).
 */
const testDefaults = { RATE_LIMIT_FAILED_PER_IP: '0', RATE_LIMIT_FAILED_PER_DEVICE: '0', INGEST_DEVICE_MAX_EVENTS: '0', INGEST_DEVICE_MAX_BYTES: '0' };

/** An assetgate app in-process on a free loopback port, over real HTTP, with a real Redis. */
export async function startAssetgate(options: HarnessOptions = {}): Promise<Harness> {
  // The HTTP limits are needed before the port (and so the full config) is known.
  // Only the HTTP limits are read here (before the port and the store are known).
  const server = createHttpServer(loadConfig({ ...testDefaults, ...options.env, NODE_ENV: 'test', WORKERS: undefined }).http);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  const useRedis = (options.store ?? 'redis') === 'redis';
  const topology = options.redisUrl
    ? { env: { REDIS_URL: options.redisUrl }, admin: () => plainClient(options.redisUrl) }
    : (options.topology ?? { env: testRedisEnv(), admin: testAdminClient });
  const admin = useRedis ? topology.admin() : undefined;
  const partitions = options.env?.INGEST_PARTITIONS;
  const prefix = admin ? await migratedPrefix(admin, options.prefix ?? uniquePrefix(), 'ingest', partitions === undefined ? undefined : Number(partitions)) : '';
  // Suites without issuers of their own run on the development issuer, over Redis too: asked for by name.
  const ownIssuers = options.env?.TRUSTED_ISSUERS !== undefined || (options.layer?.issuers.length ?? 0) > 0 || options.env?.NODE_ENV === 'production';
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    PUBLIC_URL: url,
    LOG_LEVEL: 'info',
    ...testDefaults,
    ...(useRedis ? { ...topology.env, REDIS_KEY_PREFIX: prefix } : {}),
    ...(useRedis && !ownIssuers ? { DEV_ISSUER: 'on' } : {}),
    ...options.env,
  }, options.layer);
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

/** Any request over real HTTP; the body as text and, when it is JSON, parsed. */
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

export function postForm(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  const f = form(fields);
  return call(url, { ...f, headers: { ...f.headers, ...headers } });
}
