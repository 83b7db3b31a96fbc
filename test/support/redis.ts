import { Cluster, Redis } from 'ioredis';
import { nanoid } from 'nanoid';
import type { RedisConnection } from '../../src/tokens/redis-client.js';
import { migrate } from '../../src/tokens/schema.js';

export const testRedisUrl = (): string => process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other suite uses, so nothing here touches data it did not create. */
export const uniquePrefix = (): string => `agtest:${nanoid(10)}:`;

export async function migratedPrefix(redis: RedisConnection, prefix = uniquePrefix(), ingestStream = 'ingest', ingestPartitions?: number): Promise<string> {
  await migrate({ redis, keyPrefix: prefix, ingestStream, ...(ingestPartitions === undefined ? {} : { ingestPartitions }) });
  return prefix;
}

const nodesOf = (redis: RedisConnection): Redis[] => (redis instanceof Cluster ? redis.nodes('master') : [redis]);

/** The keys under a test prefix, on every master (SCAN: test-only, never on a request path). */
export async function keysUnder(redis: RedisConnection, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const node of nodesOf(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      out.push(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
  return out;
}

/** Deletes the keys under a test prefix, one key per command so it is Cluster-safe. */
export async function dropPrefix(redis: RedisConnection, prefix: string): Promise<void> {
  for (const key of await keysUnder(redis, prefix)) await redis.del(key);
}

/** Admin clients of tests: connection errors (a test stopping Redis on purpose) are expected, not reported. */
export function plainClient(url = testRedisUrl()): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  return client;
}

export const onCluster = (): boolean => process.env.TEST_REDIS_TOPOLOGY === 'cluster';

/** The env that points assetgate at the test Redis of this project (standalone or cluster). */
export function testRedisEnv(): Record<string, string> {
  return onCluster() ? { REDIS_CLUSTER_NODES: process.env.TEST_REDIS_CLUSTER_NODES! } : { REDIS_URL: testRedisUrl() };
}

/** An admin connection to the test Redis of this project. */
export function testAdminClient(): RedisConnection {
  return onCluster() ? clusterClient(process.env.TEST_REDIS_CLUSTER_NODES!) : plainClient();
}

export function clusterClient(nodes: string): Cluster {
  const client = new Cluster(
    nodes.split(',').map((n) => ({ host: n.split(':')[0]!, port: Number(n.split(':')[1]) })),
    { redisOptions: { maxRetriesPerRequest: 1 } },
  );
  client.on('error', () => undefined);
  return client;
}
