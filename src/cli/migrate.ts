import { LATEST_SCHEMA_VERSION } from '../../migrations/index.js';
import { loadEffectiveStoreConfig } from '../config-file.js';
import { ConfigError, type StoreConfig } from '../config.js';
import { connectRedis, waitForReady } from '../tokens/redis-client.js';
import { migrate } from '../tokens/schema.js';
import { isProcessEntry } from './is-entry.js';

/** Applies pending Redis keyspace migrations for the configured Redis (any topology) and REDIS_KEY_PREFIX; returns a report line. */
export async function runMigrations(config: StoreConfig): Promise<string> {
  if (!config.redis) return 'No Redis configured: the in-memory store needs no migrations.';
  const redis = connectRedis(config.redis, { enableOfflineQueue: true });
  try {
    await waitForReady(redis, 10_000);
    const applied = await migrate({ redis, keyPrefix: config.redisKeyPrefix, ingestStream: config.ingest.streamKey, ingestPartitions: config.ingest.partitions });
    return applied.length ? `applied migrations ${applied.join(', ')}; schema at ${LATEST_SCHEMA_VERSION}` : `schema already at ${LATEST_SCHEMA_VERSION}`;
  } finally {
    redis.disconnect();
  }
}

// `npm run migrate` (same as `assetgate migrate`).
if (isProcessEntry(import.meta.url)) {
  try {
    process.stdout.write(`${await runMigrations(loadEffectiveStoreConfig(process.env))}\n`);
  } catch (err) {
    const usage = err instanceof ConfigError;
    process.stderr.write(`assetgate migrate: ${usage ? 'configuration error: ' : ''}${(err as Error).message}\n`);
    process.exit(usage ? 2 : 1);
  }
}
