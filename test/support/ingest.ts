import { IngestLayout } from '../../src/ingest/partitions.js';
import type { RedisConnection } from '../../src/tokens/redis-client.js';

export interface StoredEvent {
  partition: number;
  id: string;
  fields: Record<string, string>;
}

/** What a 202 answer names: an entry id is unique within its partition only. */
export const eventKey = (e: { partition?: unknown; id?: unknown }): string => `${String(e.partition)}/${String(e.id)}`;

/** Every entry in every ingest partition under a test prefix (XRANGE: test-only). */
export async function storedEvents(redis: RedisConnection, prefix: string, partitions = 16, streamName = 'ingest'): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for (const p of new IngestLayout(prefix, streamName, partitions).partitions) {
    for (const [id, flat] of await redis.xrange(p.stream, '-', '+')) {
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
      out.push({ partition: p.index, id, fields });
    }
  }
  return out;
}

export async function storedEventKeys(redis: RedisConnection, prefix: string, partitions = 16): Promise<Set<string>> {
  return new Set((await storedEvents(redis, prefix, partitions)).map(eventKey));
}
