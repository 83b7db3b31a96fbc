import type { RedisConnection } from './redis-client.js';
import { redisKeys } from './keys.js';
import { LATEST_SCHEMA_VERSION, migrations, type MigrationContext } from '../../migrations/index.js';


export async function currentSchemaVersion(redis: RedisConnection, keyPrefix: string): Promise<number> {
  return Number((await redis.get(redisKeys(keyPrefix).schema())) ?? '0');
}

/** Applies every migration above the stored version, in order; returns the versions applied. */
export async function migrate(ctx: MigrationContext): Promise<number[]> {
  const applied: number[] = [];
  let current = await currentSchemaVersion(ctx.redis, ctx.keyPrefix);
  for (const m of migrations) {
    if (m.version <= current) continue;
    await m.up(ctx);
    await ctx.redis.set(redisKeys(ctx.keyPrefix).schema(), String(m.version));
    current = m.version;
    applied.push(m.version);
  }
  return applied;
}

/** Throws with an operator-facing message when the keyspace does not match this build. */
export async function assertSchemaCurrent(redis: RedisConnection, keyPrefix: string): Promise<void> {
  const version = await currentSchemaVersion(redis, keyPrefix);
  if (version < LATEST_SCHEMA_VERSION) {
    throw new Error(`Redis keyspace schema is at version ${version}, this build needs ${LATEST_SCHEMA_VERSION}: run \`npm run migrate\``);
  }
  if (version > LATEST_SCHEMA_VERSION) {
    throw new Error(`Redis keyspace schema version ${version} is newer than this build (${LATEST_SCHEMA_VERSION}): upgrade assetgate`);
  }
}
