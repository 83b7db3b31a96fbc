import type { Logger } from 'pino';
import type { AppDeps } from './app.js';
import { createDevIssuer, type DevIssuer } from './assertion/dev-issuer.js';
import { configuredIssuer, localIssuer, TrustedIssuers, type IssuerSettings } from './assertion/issuers.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { ActivityLog } from './ops/activity.js';
import { Metrics } from './ops/metrics.js';
import { createFailureLimits } from './ops/failure-limits.js';
import { MemoryTokenStore } from './tokens/memory-store.js';
import { LookupCache } from './tokens/lookup-cache.js';
import { connectRedis, waitForReady, type RedisConnection } from './tokens/redis-client.js';
import { openRedisTokenStore, revocationMarkTtlMs } from './tokens/redis-store.js';
import { MemoryIngestSink } from './ingest/memory-sink.js';
import { countingRefusals, partitionGauges } from './ingest/metrics.js';
import { RedisIngestSink } from './ingest/redis-sink.js';
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
  const settings: IssuerSettings = {
    algorithms: config.algorithms,
    jwks: {
      cooldownMs: config.jwks.cooldownSeconds * 1000,
      maxAgeMs: config.jwks.maxAgeSeconds * 1000,
      timeoutMs: config.jwks.timeoutMs,
      maxBytes: config.jwks.maxBytes,
    },
  };
  // Issuers first: the store is built knowing whose records it may hold.
  const issuers = new TrustedIssuers();
  let devIssuer: DevIssuer | undefined;
  if (!config.devIssuer) {
    for (const iss of config.issuers) issuers.add(configuredIssuer(iss, settings.jwks, clock, metrics.jwksObserver(iss.issuer)));
  } else {
    devIssuer = await createDevIssuer(config.publicUrl, config.audiences[0]!, clock);
    const dev = devIssuer;
    issuers.add(localIssuer(dev.issuer, async () => dev.jwks(), { ...settings, algorithms: ['RS256'] }, clock, metrics.jwksObserver(dev.issuer)));
    logger.warn(
      `!!! TRUSTED_ISSUERS is not set: trusting the embedded DEVELOPMENT issuer ${dev.issuer} (mint tokens at POST ${dev.issuer}/asset-tokens). Never use this in production. !!!`,
    );
  }

  let stores: Stores;
  let subscriber: RedisConnection | undefined;
  if (config.redis) {
    ({ stores, subscriber } = await redisStores(config, config.redis, logger, clock, metrics, issuers));
  } else {
    logger.warn('!!! No Redis configured (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS): using the embedded IN-MEMORY store. Tokens and events vanish on restart. Development only. !!!');
    const memory = new MemoryTokenStore(clock);
    metrics.gaugeAtScrape('assetgate_live_access_tokens', 'Unexpired access tokens (in-memory store only: counting in Redis is not cheap).', () =>
      memory.liveAccessTokens(),
    );
    stores = { store: memory, ingest: new MemoryIngestSink(clock), failureLimits: createFailureLimits(config.failureLimits, logger, clock) };
  }
  // Warm the key caches so the first device does not wait; failures surface per request.
  if (!devIssuer) await Promise.all(issuers.list().map((i) => i.keys.warm()));

  const deps: AppDeps = { config, ...stores, issuers, clock, logger, metrics };
  if (devIssuer) deps.devIssuer = devIssuer;
  if (config.activityPage) deps.activity = new ActivityLog(clock);
  const store = stores.store;
  return {
    deps,
    close: async () => {
      subscriber?.disconnect();
      await store.close();
    },
  };
}

/** What the app gets from one backend. */
type Stores = Pick<AppDeps, 'store' | 'ingest' | 'failureLimits' | 'resourceStore' | 'keyspace'>;

/** Redis (standalone, Cluster or Sentinel): the token store, the ingest partitions, shared failure limits, the keyspace check, the optional lookup cache. */
async function redisStores(
  config: Config,
  topology: NonNullable<Config['redis']>,
  logger: Logger,
  clock: Clock,
  metrics: Metrics,
  issuers: TrustedIssuers,
): Promise<{ stores: Stores; subscriber: RedisConnection | undefined }> {
  const redis = connectRedis(topology);
  redis.on('error', (err: Error) => {
    metrics.redisConnectionError();
    logger.warn({ err }, 'redis connection error');
  });
  await waitForReady(redis, 30_000);
  await assertSchemaCurrent(redis, config.redisKeyPrefix);
  const store = await openRedisTokenStore(redis, {
    keyPrefix: config.redisKeyPrefix,
    revocationMarkTtlMs: revocationMarkTtlMs(config.accessTokenTtlSeconds),
    clock,
    // Records name their issuer by a short id (record-codec.ts): only these issuers' sessions are live.
    issuers: issuers.list().map((i) => i.issuer),
    // ... and the resources a session is for by short ids; the registry lets the guard library resolve them.
    resources: { builtin: config.resources.builtin.resource, servers: config.resources.servers.map((r) => r.resource) },
  });
  const sink = await RedisIngestSink.open(redis, { keyPrefix: config.redisKeyPrefix, streamName: config.ingest.streamKey, ...config.ingest });
  partitionGauges(metrics.registry, () => sink.status(), () => clock.now());
  const stores: Stores = {
    store,
    ingest: countingRefusals(sink, metrics.registry),
    failureLimits: createFailureLimits(config.failureLimits, logger, clock, { client: redis, keyPrefix: config.redisKeyPrefix }),
    keyspace: { stored: () => currentSchemaVersion(redis, config.redisKeyPrefix), expected: LATEST_SCHEMA_VERSION },
  };
  if (config.resourceCache.ttlMs <= 0) return { stores, subscriber: undefined };
  // A connection of its own: a subscribed connection can run no other commands.
  const subscriber = connectRedis(topology, { enableOfflineQueue: true });
  subscriber.on('error', (err: Error) => logger.warn({ err }, 'redis subscriber connection error'));
  const cache = new LookupCache({ ttlMs: config.resourceCache.ttlMs, maxEntries: config.resourceCache.maxEntries, clock });
  await cache.subscribe(subscriber, config.redisKeyPrefix);
  stores.resourceStore = cache.wrap(store);
  return { stores, subscriber };
}
