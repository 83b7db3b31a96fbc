import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { LATEST_SCHEMA_VERSION } from '../../migrations/index.js';
import { revokeDeviceSessions, type DeviceRevocation, type DeviceRevocationRequest } from '../admin/device-revocation.js';
import { systemClock, type Clock } from '../clock.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { OAuthError } from '../oauth/errors.js';
import { connectRedis, waitForReady } from '../tokens/redis-client.js';
import { RedisTokenStore } from '../tokens/redis-store.js';
import { assertSchemaCurrent } from '../tokens/schema.js';

/**
 * Device-wide revocation from the command line, against the Redis of REDIS_URL / REDIS_KEY_PREFIX.
 * `revokeDevice` is the reusable part (the `assetgate revoke-device` command calls it).
 */
export async function revokeDevice(config: Config, request: DeviceRevocationRequest, clock: Clock = systemClock): Promise<DeviceRevocation> {
  if (!config.redis) {
    throw new ConfigError('REDIS_URL: not set (nor REDIS_CLUSTER_NODES / REDIS_SENTINELS); an in-memory server can only be reached through POST /admin/devices/{did}/revoke');
  }
  const redis = connectRedis(config.redis, { enableOfflineQueue: true });
  try {
    await waitForReady(redis, 10_000);
    await assertSchemaCurrent(redis, config.redisKeyPrefix);
    const store = new RedisTokenStore(redis, {
      keyPrefix: config.redisKeyPrefix,
      revocationMarkTtlMs: (config.accessTokenTtlSeconds + 60) * 1000,
      clock,
    });
    return await revokeDeviceSessions(store, clock, request);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

export const REVOKE_DEVICE_USAGE = `usage: revoke-device <did> [--block-asset-tokens-before now|<seconds since epoch>]

Revokes every live access token of the device. With --block-asset-tokens-before, the device's asset
tokens issued before that time are refused too. Reads REDIS_URL and REDIS_KEY_PREFIX (schema v${LATEST_SCHEMA_VERSION}).
`;

/** Parses argv (without node and script) into a request; throws with a usage line when wrong. */
export function parseRevokeDeviceArgs(argv: string[]): DeviceRevocationRequest {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'block-asset-tokens-before': { type: 'string' } },
  });
  if (positionals.length !== 1) throw new ConfigError(REVOKE_DEVICE_USAGE.trimEnd());
  const request: DeviceRevocationRequest = { did: positionals[0]! };
  const block = values['block-asset-tokens-before'];
  if (block !== undefined) {
    if (block !== 'now' && !/^\d+$/.test(block)) throw new ConfigError('--block-asset-tokens-before: "now" or whole seconds since epoch');
    request.blockAssetTokensIssuedBefore = block === 'now' ? 'now' : Number(block);
  }
  return request;
}

/** The process entry: exit 0 with the JSON outcome on stdout (or --help); 2 for usage/config errors; 1 otherwise (Redis). */
export async function revokeDeviceMain(argv: string[], env: NodeJS.ProcessEnv | Record<string, string | undefined>): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(REVOKE_DEVICE_USAGE);
    return 0;
  }
  try {
    const request = parseRevokeDeviceArgs(argv);
    const result = await revokeDevice(loadConfig(env), request);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (err) {
    const usage = err instanceof ConfigError || err instanceof OAuthError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`assetgate revoke-device: ${err instanceof OAuthError ? err.description : (err as Error).message}\n`);
    return usage ? 2 : 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await revokeDeviceMain(process.argv.slice(2), process.env);
}
