import { Redis, type RedisOptions } from 'ioredis';

/**
 * Connection policy: fail fast instead of queueing while Redis is away (the client gets a 503 it
 * can retry, never a hung request), reconnect forever in the background.
 */
export function createRedisClient(url: string, overrides: RedisOptions = {}): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 2000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
    lazyConnect: false,
    ...overrides,
  });
}

/** Resolves when the client is ready, rejects after timeoutMs. */
export function waitForReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}
