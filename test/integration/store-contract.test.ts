import { afterAll } from '@jest/globals';
import { MemoryTokenStore } from '../../src/tokens/memory-store.js';
import { RedisIngestStream, RedisTokenStore } from '../../src/tokens/redis-store.js';
import { connectRedis, waitForReady, type RedisConnection } from '../../src/tokens/redis-client.js';
import { loadConfig } from '../../src/config.js';
import { TestClock } from '../support/harness.js';
import { dropPrefix, onCluster, testRedisEnv, uniquePrefix } from '../support/redis.js';
import { storeContract } from '../support/store-contract.js';

storeContract('memory', async () => {
  const clock = new TestClock();
  const store = new MemoryTokenStore(clock);
  return { store, ingest: store, clock };
});

let redis: RedisConnection;
const prefix = uniquePrefix();
storeContract(onCluster() ? 'redis-cluster' : 'redis', async () => {
  const clock = new TestClock();
  redis = connectRedis(loadConfig(testRedisEnv()).redis!);
  await waitForReady(redis, 5000);
  const store = new RedisTokenStore(redis, {
    keyPrefix: prefix,
    revocationMarkTtlMs: 3_600_000,
    clock,
    resources: { builtin: 'https://assetgate.example', servers: ['https://telemetry.example'] },
  });
  return { store, ingest: new RedisIngestStream(redis, prefix, 'ingest', 1000), clock };
});
afterAll(async () => {
  await dropPrefix(redis, prefix);
  redis.disconnect();
});
