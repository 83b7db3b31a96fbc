import { Cluster, type Redis } from 'ioredis';
import type { RedisConnection } from '../src/tokens/redis-client.js';
import { HASH_CHARS, redisKeys } from '../src/tokens/keys.js';
import { DEFAULT_INGEST_PARTITIONS, deviceIdentity, INGEST_CONSUMER_GROUP, IngestLayout } from '../src/ingest/partitions.js';

/**
 * Numbered Redis keyspace migrations. Each runs once, in order; `<prefix>schema` holds the number of
 * the last one applied. Apply with `npm run migrate` (or `assetgate migrate`). The server refuses
 * to start against a keyspace that is behind or ahead of this build.
 */
export interface MigrationContext {
  redis: RedisConnection;
  keyPrefix: string;
  ingestStream: string;
  /** INGEST_PARTITIONS: how many ingest streams migration 3 sets up (fixed from then on); default 16. */
  ingestPartitions?: number;
}

export interface Migration {
  version: number;
  description: string;
  up(ctx: MigrationContext): Promise<void>;
}

export { INGEST_CONSUMER_GROUP };

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

/**
 * Adds one entry of the single stream to its partition under its own id (so ids answered 202 before
 * the upgrade are the ids consumers see), with its size in the byte budget. An id the partition
 * already holds was moved by an earlier, interrupted run: skipped, so a rerun moves nothing twice.
 * KEYS: 1 stream, 2 bytes, 3 sizes. ARGV: 1 id, 2.. field, value.
 */
const MOVE_ENTRY_SCRIPT = `
local added = redis.pcall('XADD', KEYS[1], ARGV[1], unpack(ARGV, 2))
if type(added) == 'table' and added.err then return 0 end
local size = 0
for i = 3, #ARGV, 2 do size = size + #ARGV[i] end
redis.call('INCRBY', KEYS[2], size)
redis.call('RPUSH', KEYS[3], size)
return 1
`;

/**
 * Moves what the single stream's consumer group has not acknowledged (its pending entries and the
 * ones after its last-delivered id) into the partitions, in stream order, so every device's events
 * keep their order; then deletes the single stream.
 */
async function partitionIngest({ redis, keyPrefix, ingestStream, ingestPartitions }: MigrationContext): Promise<void> {
  const stored = await redis.get(new IngestLayout(keyPrefix, ingestStream, 1).layoutKey);
  const layout = new IngestLayout(keyPrefix, ingestStream, stored === null ? (ingestPartitions ?? DEFAULT_INGEST_PARTITIONS) : Number(stored));
  for (const p of layout.partitions) {
    try {
      await redis.xgroup('CREATE', p.stream, INGEST_CONSUMER_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }
  await redis.set(layout.layoutKey, String(layout.count));
  const legacy = layout.legacyStream;
  if ((await redis.exists(legacy)) === 0) return;
  const groups = (await redis.xinfo('GROUPS', legacy)) as unknown[][];
  const group = groups.map((g) => Object.fromEntries(chunks(g))).find((g) => g.name === INGEST_CONSUMER_GROUP);
  const lastDelivered = group ? String(group['last-delivered-id']) : '0-0';
  const pending = new Set<string>();
  if (group) {
    let from = '-';
    for (;;) {
      const batch = (await redis.xpending(legacy, INGEST_CONSUMER_GROUP, from, '+', 1000)) as Array<[string, ...unknown[]]>;
      for (const [id] of batch) pending.add(id);
      if (batch.length < 1000) break;
      from = `(${batch.at(-1)![0]}`;
    }
  }
  let from = '-';
  for (;;) {
    const entries = await redis.xrange(legacy, from, '+', 'COUNT', 500);
    for (const [id, fields] of entries) {
      if (!pending.has(id) && !isAfter(id, lastDelivered)) continue; // acknowledged: delivered already
      const f = Object.fromEntries(chunks(fields)) as Record<string, string | undefined>;
      const p = layout.partitionOf(deviceIdentity(f.iss ?? '', f.sub ?? ''));
      await redis.eval(MOVE_ENTRY_SCRIPT, 3, p.stream, p.bytes, p.sizes, id, ...fields);
    }
    if (entries.length < 500) break;
    from = `(${entries.at(-1)![0]}`;
  }
  await redis.del(legacy);
}

function chunks<T>(flat: T[]): Array<[T, T]> {
  const pairs: Array<[T, T]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  return pairs;
}

/** Stream id order: by time, then sequence. */
function isAfter(id: string, than: string): boolean {
  const [am, as] = id.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = than.split('-').map(BigInt) as [bigint, bigint];
  return am > bm || (am === bm && as > bs);
}

/** The longest remaining life (ms) of an access token on this node: how long sessions of the older layout may live. */
async function longestSessionLeft(node: Redis, prefix: string): Promise<number> {
  let longest = 0;
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', `${globEscaped(prefix)}{*}:at:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const pipeline = node.pipeline();
    for (const key of keys) pipeline.pttl(key);
    for (const [, ttl] of (await pipeline.exec()) ?? []) longest = Math.max(longest, Number(ttl));
  } while (cursor !== '0');
  return longest;
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
  {
    version: 4,
    description:
      'partitioned ingest: INGEST_PARTITIONS streams, each with its own Cluster hash tag and consumer group, and their byte budgets; ' +
      'the entries of the single ingest stream that its consumer group has not acknowledged move to their device\'s partition under ' +
      'their own ids, then the single stream is deleted. Stop older instances first (they would write to the single stream), and ' +
      'let its consumers finish or stop them: they read the partitions from now on',
    up: partitionIngest,
  },
  {
    version: 5,
    description:
      'a device is its issuer plus its id: revocation and block marks per issuer ({tag}:rb:<issuer key>, {tag}:nb:<issuer key>), ' +
      'access tokens naming their issuer key, per-device failure counts keyed by issuer and id. Nothing is renamed: the older ' +
      'marks hash the id alone, so whose they were cannot be told; they stay and are still read (the id\'s block under every ' +
      'issuer; the revocation of sessions minted before), and <prefix>legacy-until records how long such sessions may live, so ' +
      'that a revocation reaches them too. Single-use marks keep their names (a replay stays refused across the upgrade); ' +
      'failure counts restart (the older ones expire within their window). Stop older instances first',
    async up({ redis, keyPrefix }) {
      const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
      let longest = 0;
      for (const node of nodes) longest = Math.max(longest, await longestSessionLeft(node, keyPrefix));
      if (longest > 0) await redis.set(redisKeys(keyPrefix).legacyUntil(), String(Date.now() + longest), 'PX', longest);
    },
  },
];

export const LATEST_SCHEMA_VERSION = migrations.at(-1)?.version ?? 0;
