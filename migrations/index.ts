import type { RedisConnection } from '../src/tokens/redis-client.js';

/**
 * Numbered Redis keyspace migrations. Each runs once, in order; `<prefix>schema` holds the number of
 * the last one applied. Apply with `npm run migrate` (or `assetgate migrate`). The server refuses
 * to start against a keyspace that is behind or ahead of this build.
 */
export interface MigrationContext {
  redis: RedisConnection;
  keyPrefix: string;
  ingestStream: string;
}

export interface Migration {
  version: number;
  description: string;
  up(ctx: MigrationContext): Promise<void>;
}

export const INGEST_CONSUMER_GROUP = 'ingest-workers';

export const migrations: Migration[] = [
  {
    version: 1,
    description: 'ingest stream with its consumer group "ingest-workers" (reads new entries from creation on)',
    async up({ redis, keyPrefix, ingestStream }) {
      try {
        await redis.xgroup('CREATE', `${keyPrefix}${ingestStream}`, INGEST_CONSUMER_GROUP, '$', 'MKSTREAM');
      } catch (err) {
        if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
      }
    },
  },
];

export const LATEST_SCHEMA_VERSION = migrations.at(-1)?.version ?? 0;
