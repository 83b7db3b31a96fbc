import type { Context } from 'koa';
import type { Clock } from '../clock.js';
import type { IngestEvent, IngestRefusal, IngestSink } from '../ingest/event.js';
import { TemporarilyUnavailable, TooManyRequests, type OAuthError } from '../oauth/errors.js';
import { releaseRedemption, type RedemptionDeps } from '../redemption/redeem.js';
import { respondJson } from '../oauth/respond.js';
import type { Principal } from './guard.js';

/** GET /resource: who the token says the caller is. */
export function showResource(ctx: Context): void {
  const p = ctx.state.principal as Principal;
  ctx.set('Cache-Control', 'no-store');
  respondJson(ctx, { sub: p.sub, did: p.did ?? null, aid: p.aid ?? null, iss: p.iss, scope: p.scope ?? null, exp: p.exp, via: p.via, jkt: p.jkt ?? null });
}

/** How long a device is asked to wait when its partition is full: consumers drain it, not time. */
export const BACKLOG_RETRY_AFTER_SECONDS = 5;

export interface IngestDeps {
  ingest: IngestSink;
  /** Gives back a bearer-sequence asset token whose event was not accepted. */
  redemption: Pick<RedemptionDeps, 'uses' | 'observer'>;
  clock: Clock;
}

/** The event as the caller sent it: the session's device, or the asset token's. */
function eventOf(p: Principal, body: string, receivedAt: number): IngestEvent {
  const event: IngestEvent = { sub: p.sub, iss: p.iss, receivedAt, body };
  if (p.did !== undefined) event.did = p.did;
  if (p.aid !== undefined) event.aid = p.aid;
  return event;
}

/**
 * A full partition is backpressure (503 temporarily_unavailable, RFC 6749 §4.1.2.1: retry later);
 * a device over its own limits is 429 (RFC 6585 §4) until its window ends.
 */
function refusalError(r: IngestRefusal): OAuthError {
  if (r.refused === 'device_events' || r.refused === 'device_bytes') {
    return new TooManyRequests('this device sent more events than allowed: retry later', r.retryAfterMs / 1000, { debug: r.refused });
  }
  return new TemporarilyUnavailable('the event backlog is full: retry later', { debug: r.refused, headers: { 'Retry-After': String(BACKLOG_RETRY_AFTER_SECONDS) } });
}

/**
 * POST /ingestapi: append the event to its partition and answer 202 only after the store
 * acknowledged. The append checks the partition's backlog and the device's limits in the same
 * script; when it refuses (or fails) after a bearer-sequence asset token was consumed, the token's
 * single-use mark is released, so the device retries with the same token. Checking before the
 * consumption instead would cost every accepted event one more Redis script for the sake of the
 * refused ones.
 */
export function ingestEvent(deps: IngestDeps) {
  return async function ingestEventMiddleware(ctx: Context): Promise<void> {
    const release = async (): Promise<void> => {
      const use = ctx.state.assertionUse;
      if (use) await releaseRedemption(use, deps.redemption);
    };
    let outcome;
    try {
      outcome = await deps.ingest.append(eventOf(ctx.state.principal!, ctx.state.jsonText!, deps.clock.now()));
    } catch (err) {
      await release();
      throw err;
    }
    if ('refused' in outcome) {
      await release();
      throw refusalError(outcome);
    }
    ctx.status = 202;
    ctx.set('Cache-Control', 'no-store');
    respondJson(ctx, { id: outcome.id, partition: outcome.partition });
  };
}
