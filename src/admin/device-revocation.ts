import type { Clock } from '../clock.js';
import { toSeconds } from '../clock.js';
import { InvalidRequest } from '../oauth/errors.js';
import type { Device, DeviceRevocationStore } from '../tokens/store.js';

/**
 * What an operator asks for, through the admin API or directly against Redis (one behaviour): end the
 * device's sessions and, unless told otherwise, refuse its asset tokens issued before now, which a
 * thief holding the device (or a copy of its unspent asset tokens) could still redeem.
 */
export interface DeviceRevocationRequest {
  /** The device id: the asset token's `did` (or `sub` for tokens without one). */
  did: string;
  /**
   * The issuer that names the device: a device is its issuer plus its id. May be left out only while
   * a single issuer is trusted; with several, a bare id is refused rather than guessed.
   */
  iss?: string;
  /**
   * Refuse asset tokens issued (iat, else nbf) before this time: 'now' (the default), seconds since
   * epoch, or 'none' to end the sessions only (a device its owner still holds).
   */
  blockAssetTokensIssuedBefore?: 'now' | 'none' | number;
}

/** The outcome, in NumericDate seconds (the JSON answer of the admin endpoint and the CLI). */
export interface DeviceRevocation {
  iss: string;
  did: string;
  revoked_at: number;
  asset_tokens_blocked_before?: number;
}

const MAX_DEVICE_ID_LENGTH = 256; // the same bound the claims policy puts on did / sub
// A future block bans the device until then; a seconds/milliseconds mix-up would ban it for ever.
const MAX_FUTURE_BLOCK_SECONDS = 300;

/** The store arguments of a request (pure): which device, the revocation time and the block (ms). */
export interface DeviceRevocationPlan {
  device: Device;
  atMs: number;
  blockBeforeMs: number | undefined;
}

/**
 * The device a request names, among the issuers trusted here (pure). An issuer nobody trusts would
 * write a mark nothing reads: refused, like a bare id that several issuers could mean.
 */
export function revokedDevice(request: Pick<DeviceRevocationRequest, 'did' | 'iss'>, trustedIssuers: readonly string[]): Device {
  if (request.did.length === 0 || request.did.length > MAX_DEVICE_ID_LENGTH) {
    throw new InvalidRequest(`device id must be 1-${MAX_DEVICE_ID_LENGTH} characters`);
  }
  if (request.iss !== undefined) {
    if (!trustedIssuers.includes(request.iss)) throw new InvalidRequest('issuer is not trusted here: name one of the trusted issuers exactly');
    return { iss: request.iss, subject: request.did };
  }
  if (trustedIssuers.length === 1) return { iss: trustedIssuers[0]!, subject: request.did };
  throw new InvalidRequest(
    trustedIssuers.length === 0
      ? 'no issuer is trusted here: nothing to revoke'
      : 'several issuers are trusted: name the device\'s issuer (a device is its issuer plus its id)',
  );
}

/** Pure: checks the request and turns it into store arguments (ms). */
export function deviceRevocationPlan(request: DeviceRevocationRequest, trustedIssuers: readonly string[], nowMs: number): DeviceRevocationPlan {
  const device = revokedDevice(request, trustedIssuers);
  const block = request.blockAssetTokensIssuedBefore ?? 'now';
  if (block === 'none') return { device, atMs: nowMs, blockBeforeMs: undefined };
  if (block === 'now') return { device, atMs: nowMs, blockBeforeMs: nowMs };
  if (!Number.isSafeInteger(block) || block < 0) throw new InvalidRequest('block time must be "now", "none" or whole seconds since epoch');
  if (block > toSeconds(nowMs) + MAX_FUTURE_BLOCK_SECONDS) {
    throw new InvalidRequest('block time lies in the future (seconds since epoch expected, not milliseconds)');
  }
  return { device, atMs: nowMs, blockBeforeMs: block * 1000 };
}

/**
 * Device-wide revocation without scanning the keyspace: two marks under the device's hash tag
 * (`rb`: tokens issued up to now are dead; `nb`: older asset tokens are refused at exchange and in
 * the bearer sequence), read together with every token lookup (see tokens/keys.ts). The one
 * implementation behind the admin API and the direct command.
 */
export async function revokeDeviceSessions(
  store: DeviceRevocationStore,
  clock: Clock,
  trustedIssuers: readonly string[],
  request: DeviceRevocationRequest,
): Promise<DeviceRevocation> {
  const { device, atMs, blockBeforeMs } = deviceRevocationPlan(request, trustedIssuers, clock.now());
  await store.revokeDevice(device, atMs, blockBeforeMs);
  const result: DeviceRevocation = { iss: device.iss, did: device.subject, revoked_at: toSeconds(atMs) };
  if (blockBeforeMs !== undefined) result.asset_tokens_blocked_before = toSeconds(blockBeforeMs);
  return result;
}
