import type { Clock } from '../clock.js';
import { toSeconds } from '../clock.js';
import { InvalidRequest } from '../oauth/errors.js';
import type { DeviceRevocationStore } from '../tokens/store.js';

/** What an operator asks for: end the device's sessions, and optionally refuse its older asset tokens. */
export interface DeviceRevocationRequest {
  /** The device id: the asset token's `did` (or `sub` for tokens without one). */
  did: string;
  /** Refuse asset tokens issued (iat, else nbf) before this time: 'now', or seconds since epoch. */
  blockAssetTokensIssuedBefore?: 'now' | number;
}

/** The outcome, in NumericDate seconds (the JSON answer of the admin endpoint and the CLI). */
export interface DeviceRevocation {
  did: string;
  revoked_at: number;
  asset_tokens_blocked_before?: number;
}

const MAX_DEVICE_ID_LENGTH = 256; // the same bound the claims policy puts on did / sub
// A future block bans the device until then; a seconds/milliseconds mix-up would ban it for ever.
const MAX_FUTURE_BLOCK_SECONDS = 300;

/** Pure: checks the request and turns it into store arguments (ms). */
export function deviceRevocationPlan(request: DeviceRevocationRequest, nowMs: number): { atMs: number; blockBeforeMs: number | undefined } {
  if (request.did.length === 0 || request.did.length > MAX_DEVICE_ID_LENGTH) {
    throw new InvalidRequest(`device id must be 1-${MAX_DEVICE_ID_LENGTH} characters`);
  }
  const block = request.blockAssetTokensIssuedBefore;
  if (block === undefined) return { atMs: nowMs, blockBeforeMs: undefined };
  if (block === 'now') return { atMs: nowMs, blockBeforeMs: nowMs };
  if (!Number.isSafeInteger(block) || block < 0) throw new InvalidRequest('block time must be "now" or whole seconds since epoch');
  if (block > toSeconds(nowMs) + MAX_FUTURE_BLOCK_SECONDS) {
    throw new InvalidRequest('block time lies in the future (seconds since epoch expected, not milliseconds)');
  }
  return { atMs: nowMs, blockBeforeMs: block * 1000 };
}

/**
 * Device-wide revocation without scanning the keyspace: two marks under the device's hash tag
 * (`rb`: tokens issued up to now are dead; `nb`: older asset tokens are refused at exchange and in
 * the bearer sequence), read together with every token lookup (see tokens/keys.ts).
 */
export async function revokeDeviceSessions(store: DeviceRevocationStore, clock: Clock, request: DeviceRevocationRequest): Promise<DeviceRevocation> {
  const { atMs, blockBeforeMs } = deviceRevocationPlan(request, clock.now());
  await store.revokeDevice(request.did, atMs, blockBeforeMs);
  const result: DeviceRevocation = { did: request.did, revoked_at: toSeconds(atMs) };
  if (blockBeforeMs !== undefined) result.asset_tokens_blocked_before = toSeconds(blockBeforeMs);
  return result;
}
