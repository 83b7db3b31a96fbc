import type { Logger } from 'pino';
import type { AppDeps } from './app.js';
import { createDevIssuer } from './assertion/dev-issuer.js';
import { configuredIssuer, localIssuer, TrustedIssuers, type IssuerSettings } from './assertion/issuers.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { ActivityLog } from './ops/activity.js';
import { Metrics } from './ops/metrics.js';
import { createFailureLimits } from './ops/failure-limits.js';
import { MemoryTokenStore } from './tokens/memory-store.js';
import { LookupCache } from './tokens/lookup-cache.js';
import { connectRedis, waitForReady, type RedisConnection } from './tokens/redis-client.js';
import { RedisIngestStream, RedisTokenStore } from './tokens/redis-store.js';
import { LATEST_SCHEMA_VERSION } from '../migrations/index.js';
import { assertSchemaCurrent, currentSchemaVersion } from './tokens/schema.js';

export interface Runtime {
  deps: AppDeps;
  /** Closes the store connection. */
  close(): Promise<void>;
}

/** Config -> live dependencies: the store (Redis, or memory in development), issuers and their keys. */
export async function buildRuntime(
  config: Config,
  logger: Logger,
  clock: Clock = systemClock,
  /** acrossWorkers: this process is one of WORKERS > 1, and /metrics answers for all of them. */
  options: { processMetrics?: boolean; acrossWorkers?: boolean } = {},
): Promise<Runtime> {
  const metrics = new Metrics({ processMetrics: options.processMetrics ?? false, acrossWorkers: options.acrossWorkers ?? false });
  let store: AppDeps['store'];
  let ingest: AppDeps['ingest'];
  let failureLimits: AppDeps['failureLimits'];
  let keyspace: AppDeps['keyspace'];
  let resourceStore: AppDeps['store'] | undefined;
  let subscriber: RedisConnection | undefined;
  if (config.redis) {
    const redis = connectRedis(config.redis);
    redis.on('error', (err: Error) => {
      metrics.redisConnectionError();
      logger.warn({ err: { message: err.message } }, 'redis connection error');
    });
    await waitForReady(redis, 30_000);
    await assertSchemaCurrent(redis, config.redisKeyPrefix);
    keyspace = { stored: () => currentSchemaVersion(redis, config.redisKeyPrefix), expected: LATEST_SCHEMA_VERSION };
    store = new RedisTokenStore(redis, {
      keyPrefix: config.redisKeyPrefix,
      revocationMarkTtlMs: (config.accessTokenTtlSeconds + 60) * 1000,
      clock,
    });
    ingest = new RedisIngestStream(redis, config.redisKeyPrefix, config.ingest.streamKey, config.ingest.maxLen);
    failureLimits = createFailureLimits(config.failureLimits, logger, { client: redis, keyPrefix: config.redisKeyPrefix });
    if (config.resourceCache.ttlMs > 0) {
      // A connection of its own: a subscribed connection can run no other commands.
      subscriber = connectRedis(config.redis, { enableOfflineQueue: true });
      subscriber.on('error', (err: Error) => logger.warn({ err: { message: err.message } }, 'redis subscriber connection error'));
      const cache = new LookupCache({ ttlMs: config.resourceCache.ttlMs, maxEntries: config.resourceCache.maxEntries, clock });
      await cache.subscribe(subscriber, config.redisKeyPrefix);
      resourceStore = cache.wrap(store);
    }
  } else {
    logger.warn('!!! No Redis configured (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS): using the embedded IN-MEMORY store. Tokens and events vanish on restart. Development only. !!!');
    const memory = new MemoryTokenStore(clock);
    store = memory;
    ingest = memory;
    metrics.gaugeAtScrape('assetgate_live_access_tokens', 'Unexpired access tokens (in-memory store only: counting in Redis is not cheap).', () =>
      memory.liveAccessTokens(),
    );
    failureLimits = createFailureLimits(config.failureLimits, logger);
  }

  const settings: IssuerSettings = {
    algorithms: config.algorithms,
    jwks: {
      cooldownMs: config.jwks.cooldownSeconds * 1000,
      maxAgeMs: config.jwks.maxAgeSeconds * 1000,
      timeoutMs: config.jwks.timeoutMs,
      maxBytes: config.jwks.maxBytes,
    },
  };
  const issuers = new TrustedIssuers();
  const deps: AppDeps = { config, store, ingest, issuers, clock, logger, metrics, failureLimits };
  if (keyspace) deps.keyspace = keyspace;
  if (resourceStore) deps.resourceStore = resourceStore;
  if (config.mode !== 'production') deps.activity = new ActivityLog(clock);
  if (config.issuers.length > 0) {
    for (const iss of config.issuers) issuers.add(configuredIssuer(iss, settings.jwks, clock, metrics.jwksObserver(iss.issuer)));
    // Warm the key caches so the first device does not wait; failures surface per request.
    await Promise.all(issuers.list().map((i) => i.keys.warm()));
  } else {
    const dev = await createDevIssuer(config.publicUrl, config.audiences[0]!, clock);
    issuers.add(localIssuer(dev.issuer, async () => dev.jwks(), { ...settings, algorithms: ['RS256'] }, clock, metrics.jwksObserver(dev.issuer)));
    deps.devIssuer = dev;
    logger.warn(
      `!!! TRUSTED_ISSUERS is not set: trusting the embedded DEVELOPMENT issuer ${dev.issuer} (mint tokens at POST ${dev.issuer}/asset-tokens). Never use this in production. !!!`,
    );
  }
  // Records name their issuer by a short id (record-codec.ts): only these issuers' sessions are live.
  if (store instanceof RedisTokenStore) await store.useIssuers(issuers.list().map((i) => i.issuer));
  return {
    deps,
    close: async () => {
      subscriber?.disconnect();
      await store.close();
    },
  };
}
