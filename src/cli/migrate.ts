import { LATEST_SCHEMA_VERSION } from '../../migrations/index.js';
import { ConfigError, loadConfig } from '../config.js';
import { connectRedis, waitForReady } from '../tokens/redis-client.js';
import { migrate } from '../tokens/schema.js';

/** `npm run migrate`: applies pending Redis keyspace migrations for REDIS_URL / REDIS_KEY_PREFIX. */
try {
  const config = loadConfig(process.env);
  if (!config.redis) {
    process.stdout.write('No Redis configured: the in-memory store needs no migrations.\n');
    process.exit(0);
  }
  const redis = connectRedis(config.redis, { enableOfflineQueue: true });
  await waitForReady(redis, 10_000);
  const applied = await migrate({ redis, keyPrefix: config.redisKeyPrefix, ingestStream: config.ingest.streamKey });
  process.stdout.write(
    applied.length ? `applied migrations ${applied.join(', ')}; schema at ${LATEST_SCHEMA_VERSION}\n` : `schema already at ${LATEST_SCHEMA_VERSION}\n`,
  );
  await redis.quit();
} catch (err) {
  process.stderr.write(`assetgate migrate: ${err instanceof ConfigError ? 'configuration error: ' : ''}${(err as Error).message}\n`);
  process.exit(1);
}
