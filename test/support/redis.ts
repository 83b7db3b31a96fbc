import { Redis } from 'ioredis';
import { nanoid } from 'nanoid';
import { migrate } from '../../src/tokens/schema.js';

export const testRedisUrl = (): string => process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other suite uses, so nothing here touches data it did not create. */
export const uniquePrefix = (): string => `agtest:${nanoid(10)}:`;

export async function migratedPrefix(redis: Redis, prefix = uniquePrefix(), ingestStream = 'ingest'): Promise<string> {
  await migrate({ redis, keyPrefix: prefix, ingestStream });
  return prefix;
}

/** Deletes the keys under a test prefix (SCAN, test-only). */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    out.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

export function plainClient(url = testRedisUrl()): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}
