import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { MockIssuer } from '../support/mock-issuer.js';
import { dropPrefix, migratedPrefix, plainClient, testRedisUrl } from '../support/redis.js';
import { startServerProcess, stopAll, type ServerProcess } from '../support/server-process.js';

/**
 * The server process gathers its access lines in a buffer (src/ops/logger.ts) instead of writing
 * each one: the lines it holds must still reach stdout when the process stops on SIGTERM and when
 * it dies of an uncaught exception. The real server (`node dist/src/server.js`, built by the jest
 * global setup), at its default log level; a few requests, then the signal at once, well within
 * the buffer's size and its flush interval.
 */

let issuer: MockIssuer;
let redis: Redis;
let prefix: string;
let scratch: string;

beforeAll(async () => {
  issuer = await MockIssuer.start();
  redis = plainClient();
  prefix = await migratedPrefix(redis);
  scratch = mkdtempSync(join(tmpdir(), 'access-log-'));
});
afterAll(async () => {
  stopAll();
  await dropPrefix(redis, prefix);
  redis.disconnect();
  await issuer.close();
  rmSync(scratch, { recursive: true, force: true });
});

function startServer(nodeArgs: string[] = []): Promise<ServerProcess> {
  return startServerProcess(
    (url) => ({
      NODE_ENV: 'test',
      PUBLIC_URL: url,
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
      TRUSTED_ISSUERS: issuer.url,
      // No LOG_LEVEL: the default (info) writes one access line per request.
    }),
    { nodeArgs },
  );
}

/** Requests with known ids, answered before the signal is sent. */
async function requestsWithIds(url: string, label: string): Promise<string[]> {
  const ids = Array.from({ length: 5 }, (_, i) => `${label}-${i}`);
  for (const id of ids) {
    // Not /healthz: probes log at debug. The discovery document answers 200 to anyone.
    const res = await fetch(`${url}/.well-known/oauth-authorization-server`, { headers: { 'x-request-id': id } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  }
  return ids;
}

const lines = (output: string): Array<Record<string, unknown>> =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

function expectAccessLines(output: string, ids: string[]): void {
  const access = lines(output).filter((l) => l.msg === 'request');
  for (const id of ids) expect(access).toContainEqual(expect.objectContaining({ reqId: id, method: 'GET', route: '/.well-known/oauth-authorization-server', status: 200 }));
}

describe('the buffered access log', () => {
  it('is written out when the server stops on SIGTERM', async () => {
    const server = await startServer();
    const ids = await requestsWithIds(server.url, 'sigterm');
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expectAccessLines(server.stdout(), ids);
    // In order: the gathered access lines went out before the shutdown line, and nothing after 'stopped' was lost.
    expect(lines(server.stdout()).map((l) => l.msg).slice(-3)).toEqual(['request', 'shutting down: no new connections, finishing in-flight requests', 'stopped']);
  });

  it('is written out, with a fatal line, when the server dies of an uncaught exception', async () => {
    // A crash planted from outside the product: SIGUSR2 throws in the server process.
    const crash = join(scratch, 'crash-on-sigusr2.mjs');
    writeFileSync(crash, "process.on('SIGUSR2', () => { throw new Error('planted crash'); });\n");
    const server = await startServer(['--import', crash]);
    const ids = await requestsWithIds(server.url, 'crash');
    server.child.kill('SIGUSR2');
    expect(await server.exited).toBe(1);
    expectAccessLines(server.stdout(), ids);
    // The fatal line is the last one, after every gathered access line: no write was in flight.
    expect(lines(server.stdout()).at(-1)).toEqual(
      expect.objectContaining({ level: 60, msg: 'uncaught exception: exiting', err: expect.objectContaining({ message: 'planted crash' }), origin: 'uncaughtException' }),
    );
  });
});
