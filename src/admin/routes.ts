import type { Context, Middleware, Next } from 'koa';
import type { Logger } from 'pino';
import { z } from 'zod';
import { hasDuplicateMemberNames } from '../assertion/strict-json.js';
import type { Clock } from '../clock.js';
import { PATHS } from '../oauth/constants.js';
import { InvalidRequest } from '../oauth/errors.js';
import { requireBearerSecret } from '../resource/bearer-secret.js';
import { readJsonBody } from '../resource/json-body.js';
import type { DeviceRevocationStore } from '../tokens/store.js';
import { revokeDeviceSessions, type DeviceRevocationRequest } from './device-revocation.js';

export interface AdminDeps {
  apiKey: string;
  realm: string;
  store: DeviceRevocationStore;
  /** The issuers this server trusts: a revocation names one of them (a device is its issuer plus its id). */
  trustedIssuers: readonly string[];
  clock: Clock;
  maxBodyBytes: number;
  /** The audit trail: every revocation, with the device and the options (never the admin key). */
  logger: Logger;
}

const RevokeBody = z
  .object({
    iss: z.string().min(1).optional(),
    block_asset_tokens_issued_before: z.union([z.literal('now'), z.literal('none'), z.number().int().nonnegative()]).optional(),
  })
  .strict();

/**
 * Optional JSON body `{"iss": "<issuer>", "block_asset_tokens_issued_before": "now" | "none" | <seconds>}`;
 * an empty body is `{}` (the only trusted issuer; block asset tokens issued before now).
 */
export function parseRevokeBody(maxBytes: number) {
  return async function parseRevokeBodyMiddleware(ctx: Context, next: Next): Promise<void> {
    const body = await readJsonBody(ctx, maxBytes, { optional: true });
    // JSON.parse keeps the last of two same-named members, a proxy or review tool in front may read
    // the first (RFC 8259 §4): `{"iss": A, "iss": B}` must not revoke B's device where A's was checked.
    if (body !== undefined && hasDuplicateMemberNames(body.text)) throw new InvalidRequest('body names a member more than once');
    const parsed = RevokeBody.safeParse(body === undefined ? {} : body.value);
    if (!parsed.success) {
      throw new InvalidRequest('body may hold only "iss" (the device\'s issuer) and "block_asset_tokens_issued_before": "now", "none" or whole seconds since epoch');
    }
    ctx.state.revokeBody = parsed.data;
    await next();
  };
}

/**
 * The device id named by the path's {did} segment (/admin/devices/{did}/revoke), percent-decoded
 * (RFC 3986 §2.1). The router hands on a segment it cannot decode as it came, so "%ED%A0%80" (no
 * UTF-8) and "%" would each name a device spelled with a percent sign; they name none and are refused.
 */
const DID_SEGMENT = PATHS.adminDeviceRevoke.split('/').indexOf(':did');

function deviceIdOfPath(path: string): string {
  const raw = path.split('/')[DID_SEGMENT] ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidRequest('the device id in the path is not percent-encoded UTF-8');
  }
}

export function revokeDevice(deps: Pick<AdminDeps, 'store' | 'clock' | 'trustedIssuers' | 'logger'>) {
  return async function revokeDeviceMiddleware(ctx: Context): Promise<void> {
    const body = ctx.state.revokeBody!;
    const request: DeviceRevocationRequest = { did: deviceIdOfPath(ctx.path) };
    if (body.iss !== undefined) request.iss = body.iss;
    if (body.block_asset_tokens_issued_before !== undefined) request.blockAssetTokensIssuedBefore = body.block_asset_tokens_issued_before;
    const revocation = await revokeDeviceSessions(deps.store, deps.clock, deps.trustedIssuers, request);
    deps.logger.info({ audit: 'device_revoked', via: 'admin_api', ...revocation, block_requested: request.blockAssetTokensIssuedBefore ?? 'now', client: ctx.ip }, 'device revoked');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = revocation;
  };
}

/** POST /admin/devices/{did}/revoke as a pipeline of named middlewares. */
export function deviceRevocationEndpoint(deps: AdminDeps): Middleware[] {
  // The admin API has its own credential (ADMIN_API_KEY), never an access token or a client secret.
  return [requireBearerSecret(deps.apiKey, deps.realm), parseRevokeBody(deps.maxBodyBytes), revokeDevice(deps)];
}
