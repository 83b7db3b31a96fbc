import type { Context } from 'koa';
import type { Clock } from '../clock.js';
import type { AssertionUse, AssertionUseStore, IngestEvent, IngestStream } from '../tokens/store.js';
import type { Principal } from './guard.js';
import { respondJson } from '../oauth/respond.js';

/** GET /resource: who the token says the caller is. */
export function showResource(ctx: Context): void {
  const p = ctx.state.principal as Principal;
  ctx.set('Cache-Control', 'no-store');
  respondJson(ctx, { sub: p.sub, did: p.did ?? null, aid: p.aid ?? null, iss: p.iss, scope: p.scope ?? null, exp: p.exp, via: p.via, jkt: p.jkt ?? null });
}

/**
 * POST /ingestapi: append the event to the stream and answer 202 only after the store acknowledged.
 * If the append fails after a bearer-sequence asset token was consumed, the single-use mark is
 * released so the device can retry with the same token.
 */
export function ingestEvent(deps: { ingest: IngestStream; uses: Pick<AssertionUseStore, 'releaseAssertion'>; clock: Clock }) {
  return async function ingestEventMiddleware(ctx: Context): Promise<void> {
    const p = ctx.state.principal as Principal;
    const event: IngestEvent = { sub: p.sub, iss: p.iss, receivedAt: deps.clock.now(), body: ctx.state.jsonText as string };
    if (p.did !== undefined) event.did = p.did;
    if (p.aid !== undefined) event.aid = p.aid;
    let id: string;
    try {
      id = await deps.ingest.append(event);
    } catch (err) {
      const use = ctx.state.assertionUse as AssertionUse | undefined;
      if (use) await deps.uses.releaseAssertion(use).catch(() => undefined);
      throw err;
    }
    ctx.status = 202;
    ctx.set('Cache-Control', 'no-store');
    respondJson(ctx, { id });
  };
}
