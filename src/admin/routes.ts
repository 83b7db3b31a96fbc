import type { Context, Middleware, Next } from 'koa';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { InvalidRequest } from '../oauth/errors.js';
import { requireBearerSecret } from '../resource/bearer-secret.js';
import { readJsonBody } from '../resource/json-body.js';
import type { DeviceRevocationStore } from '../tokens/store.js';
import { revokeDeviceSessions, type DeviceRevocationRequest } from './device-revocation.js';

export interface AdminDeps {
  apiKey: string;
  realm: string;
  store: DeviceRevocationStore;
  clock: Clock;
  maxBodyBytes: number;
}

const RevokeBody = z
  .object({
    block_asset_tokens_issued_before: z.union([z.literal('now'), z.number().int().nonnegative()]).optional(),
  })
  .strict();

/** Optional JSON body `{"block_asset_tokens_issued_before": "now" | <seconds>}`; an empty body is `{}`. */
export function parseRevokeBody(maxBytes: number) {
  return async function parseRevokeBodyMiddleware(ctx: Context, next: Next): Promise<void> {
    const body = await readJsonBody(ctx, maxBytes, { optional: true });
    const parsed = RevokeBody.safeParse(body === undefined ? {} : body.value);
    if (!parsed.success) {
      throw new InvalidRequest('body may hold only "block_asset_tokens_issued_before": "now" or whole seconds since epoch');
    }
    ctx.state.revokeBody = parsed.data;
    await next();
  };
}

export function revokeDevice(deps: Pick<AdminDeps, 'store' | 'clock'>) {
  return async function revokeDeviceMiddleware(ctx: Context): Promise<void> {
    const body = ctx.state.revokeBody!;
    const request: DeviceRevocationRequest = { did: String(ctx.params.did ?? '') };
    if (body.block_asset_tokens_issued_before !== undefined) request.blockAssetTokensIssuedBefore = body.block_asset_tokens_issued_before;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await revokeDeviceSessions(deps.store, deps.clock, request);
  };
}

/** POST /admin/devices/{did}/revoke as a pipeline of named middlewares. */
export function deviceRevocationEndpoint(deps: AdminDeps): Middleware[] {
  // The admin API has its own credential (ADMIN_API_KEY), never an access token or a client secret.
  return [requireBearerSecret(deps.apiKey, deps.realm), parseRevokeBody(deps.maxBodyBytes), revokeDevice(deps)];
}
