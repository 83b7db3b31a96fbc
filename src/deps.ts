import type { Logger } from 'pino';
import type { AppDeps } from './app.js';
import { createDevIssuer } from './assertion/dev-issuer.js';
import { localIssuer, remoteIssuer, TrustedIssuers, type IssuerSettings } from './assertion/issuers.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { createFailureLimits } from './ops/failure-limits.js';
import { MemoryTokenStore } from './tokens/memory-store.js';
import { createRedisClient, waitForReady } from './tokens/redis-client.js';
import { RedisIngestStream, RedisTokenStore } from './tokens/redis-store.js';
import { assertSchemaCurrent } from './tokens/schema.js';

export interface Runtime {
  deps: AppDeps;
  /** Closes the store connection. */
  close(): Promise<void>;
}

/** Config -> live dependencies: the store (Redis, or memory in development), issuers and their keys. */
export async function buildRuntime(config: Config, logger: Logger, clock: Clock = systemClock): Promise<Runtime> {
  let store: AppDeps['store'];
  let ingest: AppDeps['ingest'];
  let failureLimits: AppDeps['failureLimits'];
  if (config.redisUrl) {
    const redis = createRedisClient(config.redisUrl);
    redis.on('error', (err: Error) => logger.warn({ err: { message: err.message } }, 'redis connection error'));
    await waitForReady(redis, 30_000);
    await assertSchemaCurrent(redis, config.redisKeyPrefix);
    store = new RedisTokenStore(redis, {
      keyPrefix: config.redisKeyPrefix,
      revocationMarkTtlMs: (config.accessTokenTtlSeconds + 60) * 1000,
      clock,
    });
    ingest = new RedisIngestStream(redis, config.redisKeyPrefix, config.ingest.streamKey, config.ingest.maxLen);
    failureLimits = createFailureLimits(config.failureLimits, logger, { client: redis, keyPrefix: config.redisKeyPrefix });
  } else {
    logger.warn('!!! REDIS_URL is not set: using the embedded IN-MEMORY store. Tokens and events vanish on restart. Development only. !!!');
    const memory = new MemoryTokenStore(clock);
    store = memory;
    ingest = memory;
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
  const deps: AppDeps = { config, store, ingest, issuers, clock, logger, failureLimits };
  if (config.trustedIssuers.length > 0) {
    for (const iss of config.trustedIssuers) issuers.add(remoteIssuer(iss, settings, clock));
    // Warm the key caches so the first device does not wait; failures surface per request.
    await Promise.all(issuers.list().map((i) => i.keys.warm()));
  } else {
    const dev = await createDevIssuer(config.publicUrl, config.audiences[0]!, clock);
    issuers.add(localIssuer(dev.issuer, async () => dev.jwks(), { ...settings, algorithms: ['RS256'] }, clock));
    deps.devIssuer = dev;
    logger.warn(
      `!!! TRUSTED_ISSUERS is not set: trusting the embedded DEVELOPMENT issuer ${dev.issuer} (mint tokens at POST ${dev.issuer}/asset-tokens). Never use this in production. !!!`,
    );
  }
  return { deps, close: () => store.close() };
}
