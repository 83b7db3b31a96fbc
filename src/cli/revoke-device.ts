import { revokeDeviceSessions, type DeviceRevocation, type DeviceRevocationRequest } from '../admin/device-revocation.js';
import { systemClock, type Clock } from '../clock.js';
import { ConfigError, type StoreConfig } from '../config.js';
import { connectRedis, waitForReady } from '../tokens/redis-client.js';
import { RedisTokenStore, revocationMarkTtlMs } from '../tokens/redis-store.js';
import { assertSchemaCurrent } from '../tokens/schema.js';

/**
 * `assetgate revoke-device` (and `npm run revoke-device`, the same command with --direct): one
 * request, one behaviour, whichever way it reaches the store. Through the admin API the server runs
 * revokeDeviceSessions; with --direct this process runs it against Redis itself.
 */
export const REVOKE_DEVICE_HELP = `
A device is its issuer plus its id: with several trusted issuers, --issuer is required (a bare id
is refused, never guessed); with one, it may be left out.

By default the device's asset tokens issued before now are refused too: what a stolen device needs,
since its unspent asset tokens would otherwise still open sessions. --block-asset-tokens-before none
ends the sessions only (a device its owner still holds); a time in seconds since epoch blocks from then.

Through the admin API (default): POST /admin/devices/<did>/revoke with the ADMIN_API_KEY bearer; the
server logs every revocation (device, issuer, options) as its audit trail.
With --direct: the same revocation written straight to Redis (REDIS_URL, REDIS_KEY_PREFIX, or the
configuration file), e.g. when no server exposes the admin API. The marks last as long as the longest
session any server on that keyspace issues, whatever this shell's settings.`;

export interface RevokeDeviceOptions {
  issuer?: string | undefined;
  blockAssetTokensBefore?: string | undefined;
}

/** The request both paths carry out, from the command's arguments (usage errors as ConfigError). */
export function revocationRequestOf(did: string, opts: RevokeDeviceOptions): DeviceRevocationRequest {
  const request: DeviceRevocationRequest = { did };
  if (opts.issuer !== undefined) request.iss = opts.issuer;
  const block = opts.blockAssetTokensBefore;
  if (block !== undefined) {
    if (block !== 'now' && block !== 'none' && !/^\d+$/.test(block)) {
      throw new ConfigError('--block-asset-tokens-before: "now", "none" or whole seconds since epoch');
    }
    request.blockAssetTokensIssuedBefore = block === 'now' || block === 'none' ? block : Number(block);
  }
  return request;
}

/** The admin API's JSON body for the same request. */
export function revocationBody(request: DeviceRevocationRequest): Record<string, string | number> {
  const body: Record<string, string | number> = {};
  if (request.iss !== undefined) body.iss = request.iss;
  if (request.blockAssetTokensIssuedBefore !== undefined) body.block_asset_tokens_issued_before = request.blockAssetTokensIssuedBefore;
  return body;
}

/**
 * The revocation written straight to the Redis of the configuration. The trusted issuers are those
 * the servers on that keyspace published (`<prefix>issuers`) and those of this configuration.
 */
export async function revokeDeviceDirect(config: StoreConfig, request: DeviceRevocationRequest, clock: Clock = systemClock): Promise<DeviceRevocation> {
  if (!config.redis) {
    throw new ConfigError('REDIS_URL: not set (nor REDIS_CLUSTER_NODES / REDIS_SENTINELS); an in-memory server can only be reached through its admin API (drop --direct)');
  }
  const redis = connectRedis(config.redis, { enableOfflineQueue: true });
  try {
    await waitForReady(redis, 10_000);
    await assertSchemaCurrent(redis, config.redisKeyPrefix);
    const store = new RedisTokenStore(redis, {
      keyPrefix: config.redisKeyPrefix,
      revocationMarkTtlMs: revocationMarkTtlMs(config.accessTokenTtlSeconds),
      clock,
    });
    const trusted = new Set([...(await store.publishedIssuers()), ...config.issuers.map((i) => i.issuer)]);
    return await revokeDeviceSessions(store, clock, [...trusted], request);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
