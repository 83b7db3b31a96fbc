import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { hasRedisServer, RedisServerProcess } from '../support/redis-server.js';
import { startServerProcess, stopAll } from '../support/server-process.js';
import { migratedPrefix, uniquePrefix } from '../support/redis.js';
import { MockIssuer } from '../support/mock-issuer.js';

/**
 * Redis that comes back empty (no persistence, a failover to an empty replica, a flush) has lost
 * the schema key with every token, single-use mark and revocation. A running server must say it is
 * not ready, as a new one refuses to start, until the keyspace is migrated again.
 */
afterAll(stopAll);

const run = hasRedisServer() ? describe : describe.skip;

run('readiness after Redis restarts empty', () => {
  it('turns 503 with the keyspace named, logs it once, and is ready again after migrate', async () => {
    const redisServer = await RedisServerProcess.start();
    const issuer = await MockIssuer.start();
    const admin = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined);
    const prefix = await migratedPrefix(admin, uniquePrefix());
    // Not waited for: readiness itself is what the test watches from the start.
    const { child, url, output } = await startServerProcess(() => ({ REDIS_URL: redisServer.url, REDIS_KEY_PREFIX: prefix, TRUSTED_ISSUERS: issuer.url }), { waitUntilListening: false });
    const readyz = () => fetch(`${url}/readyz`).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> }), () => ({ status: 0, body: {} as Record<string, string> }));
    type Answer = Awaited<ReturnType<typeof readyz>>;
    const until = async (done: (a: Answer) => boolean) => {
      const deadline = Date.now() + 15_000;
      let last = await readyz();
      while (!done(last) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        last = await readyz();
      }
      return last;
    };
    try {
      expect((await until((a) => a.status === 200)).status).toBe(200);

      await redisServer.stop();
      await redisServer.start(); // same port, nothing persisted: an empty keyspace
      // Unreachable while the client reconnects, then the keyspace answer.
      const emptied = await until((a) => a.body.keyspace !== undefined);
      expect(emptied).toEqual({ status: 503, body: { status: 'unavailable', keyspace: 'schema_mismatch' } });
      expect((await readyz()).status).toBe(503);
      expect(output().match(/keyspace schema is not the one this build needs/g)).toHaveLength(1);

      await migratedPrefix(admin, prefix);
      expect((await until((a) => a.status === 200)).body).toEqual({ status: 'ready' });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      admin.disconnect();
      await issuer.close();
      await redisServer.stop();
    }
  }, 60_000);
});
