import { Cluster, type Redis } from 'ioredis';
import type { RedisConnection } from '../src/tokens/redis-client.js';
import { HASH_CHARS } from '../src/tokens/keys.js';

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

/** A key prefix as a SCAN MATCH pattern: glob characters in it match only themselves. */
const globEscaped = (prefix: string): string => prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
const LONG_HASH = 43; // a whole base64url sha256, as stored before migration 2

/**
 * Renames `<prefix>{tag}:at:<43 chars>` and `...:jti:<43 chars>` to their first HASH_CHARS characters.
 * RENAME keeps the value and the TTL, and both names share the hash tag (same Cluster slot). Values
 * are left as they are: the record decoder still reads format 1 (JSON).
 */
async function shortenHashedKeys(node: Redis, prefix: string): Promise<void> {
  const pattern = `${globEscaped(prefix)}{*}:*:*`;
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    const pipeline = node.pipeline();
    let renames = 0;
    for (const key of keys) {
      const m = /^(.*\}:(?:at|jti):)([A-Za-z0-9_-]+)$/.exec(key.slice(prefix.length));
      if (!m || m[2]!.length !== LONG_HASH) continue;
      pipeline.renamenx(key, `${prefix}${m[1]}${m[2]!.slice(0, HASH_CHARS)}`);
      renames += 1;
    }
    if (renames > 0) await pipeline.exec();
  } while (cursor !== '0');
}

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
  {
    version: 2,
    description:
      'compact access-token records (record-codec.ts format 2, written from now on; format 1 JSON stays readable) and 132-bit key hashes: ' +
      'renames every access-token and single-use-mark key to its shorter name, keeping value and TTL. Stop older instances first: ' +
      'a token they issue after this migration is not found by this build (the device exchanges again)',
    async up({ redis, keyPrefix }) {
      const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
      for (const node of nodes) await shortenHashedKeys(node, keyPrefix);
    },
  },
  {
    version: 3,
    description:
      'audience-restricted sessions (RFC 8707): a record may name the resources it is valid at ("@<ids>|" in front, record-codec.ts); ' +
      'records without one, every record written so far included, are valid only at the built-in resource (PUBLIC_URL), the narrowest ' +
      'reading of a session that was only ever meant for assetgate\'s own routes. Nothing is rewritten: the version step makes guard ' +
      'libraries of schema 2, which know nothing of audiences and would take any session as meant for their service, refuse the keyspace ' +
      '(503) until they are upgraded; older servers do not find restricted records at all (fail closed)',
    async up() {
      // The format is read as it is; the step itself is the change (see the description).
    },
  },
];

export const LATEST_SCHEMA_VERSION = migrations.at(-1)?.version ?? 0;
