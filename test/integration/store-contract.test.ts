import { afterAll } from '@jest/globals';
import { MemoryIngestSink } from '../../src/ingest/memory-sink.js';
import { RedisIngestSink } from '../../src/ingest/redis-sink.js';
import { MemoryTokenStore } from '../../src/tokens/memory-store.js';
import { RedisTokenStore } from '../../src/tokens/redis-store.js';
import { connectRedis, waitForReady, type RedisConnection } from '../../src/tokens/redis-client.js';
import { loadStoreConfig } from '../../src/config.js';
import { TestClock } from '../support/harness.js';
import { dropPrefix, migratedPrefix, onCluster, testRedisEnv, uniquePrefix } from '../support/redis.js';
import { storeContract } from '../support/store-contract.js';

storeContract('memory', async () => {
  const clock = new TestClock();
  const store = new MemoryTokenStore(clock);
  return { store, ingest: new MemoryIngestSink(clock), clock };
});

let redis: RedisConnection;
const prefix = uniquePrefix();
storeContract(onCluster() ? 'redis-cluster' : 'redis', async () => {
  const clock = new TestClock();
  redis = connectRedis(loadStoreConfig(testRedisEnv()).redis!);
  await waitForReady(redis, 5000);
  const store = new RedisTokenStore(redis, {
    keyPrefix: prefix,
    revocationMarkTtlMs: 3_600_000,
    clock,
    resources: { builtin: 'https://assetgate.example', servers: ['https://telemetry.example'] },
  });
  await migratedPrefix(redis, prefix);
  const limits = { backlogEntries: 1000, backlogBytes: 1024 * 1024, deviceEvents: 0, deviceBytes: 0, deviceWindowMs: 60_000 };
  return { store, ingest: await RedisIngestSink.open(redis, { keyPrefix: prefix, streamName: 'ingest', partitions: 16, limits }), clock };
});
afterAll(async () => {
  await dropPrefix(redis, prefix);
  redis.disconnect();
});
