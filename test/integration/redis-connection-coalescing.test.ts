import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Writable } from 'node:stream';
import { Cluster, type Redis } from 'ioredis';
import { loadStoreConfig } from '../../src/config.js';
import { connectRedis, isCoalesced, waitForReady, type RedisConnection } from '../../src/tokens/redis-client.js';
import { testRedisEnv, uniquePrefix } from '../support/redis.js';

/** The server's own connections (standalone, or every Cluster node) coalesce their writes (one writev per event-loop batch). */
describe('Redis connections of the configured topology coalesce writes', () => {
  let redis: RedisConnection;
  const prefix = uniquePrefix();
  const keys = Array.from({ length: 16 }, (_, i) => `${prefix}{device-${i}}:k`);

  beforeAll(async () => {
    redis = connectRedis(loadStoreConfig(testRedisEnv()).redis!);
    redis.on('error', () => undefined);
    await waitForReady(redis, 10_000);
  });
  afterAll(async () => {
    await Promise.all(keys.map((k) => redis.del(k)));
    redis.disconnect();
  });

  it('every connected node socket is coalesced, and commands spread over nodes are answered correctly', async () => {
    await Promise.all(keys.map((k, i) => redis.set(k, `v${i}`, 'PX', 60_000)));
    expect(await Promise.all(keys.map((k) => redis.get(k)))).toEqual(keys.map((_, i) => `v${i}`));
    const nodes: Redis[] = redis instanceof Cluster ? redis.nodes('all') : [redis];
    const sockets = nodes.map((n) => (n as unknown as { stream?: Writable }).stream).filter((s): s is Writable => s !== undefined);
    expect(sockets.length).toBeGreaterThan(0);
    for (const socket of sockets) expect(isCoalesced(socket)).toBe(true);
  });

  it('every node connection takes REDIS_COMMAND_TIMEOUT_MS and REDIS_CONNECT_TIMEOUT_MS', async () => {
    const tuned = connectRedis(loadStoreConfig({ ...testRedisEnv(), REDIS_COMMAND_TIMEOUT_MS: '1234', REDIS_CONNECT_TIMEOUT_MS: '4321' }).redis!);
    tuned.on('error', () => undefined);
    try {
      await waitForReady(tuned, 10_000);
      await tuned.get(keys[0]!); // a Cluster connects to its nodes on demand
      const nodes: Redis[] = tuned instanceof Cluster ? tuned.nodes('all') : [tuned];
      expect(nodes.length).toBeGreaterThan(0);
      for (const node of nodes) expect([node.options.commandTimeout, node.options.connectTimeout]).toEqual([1234, 4321]);
    } finally {
      tuned.disconnect();
    }
  });
});
