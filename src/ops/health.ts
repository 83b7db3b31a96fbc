import type { Context } from 'koa';
import type { TokenStore } from '../tokens/store.js';

/** GET /healthz: the process is up. */
export function healthz(ctx: Context): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { status: 'ok' };
}

/** GET /readyz: 503 while the store cannot be reached. */
export function readyz(store: TokenStore) {
  return async function readyzMiddleware(ctx: Context): Promise<void> {
    ctx.set('Cache-Control', 'no-store');
    try {
      await store.ping();
      ctx.body = { status: 'ready' };
    } catch {
      ctx.status = 503;
      ctx.set('Retry-After', '1');
      ctx.body = { status: 'unavailable', store: 'unreachable' };
    }
  };
}
