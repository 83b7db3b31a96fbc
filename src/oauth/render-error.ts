import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { requestLogger } from '../ops/request-context.js';
import { IssuerUnavailableError } from '../assertion/jwks.js';
import { StoreUnavailableError } from '../tokens/store.js';
import { respondWithError } from './error-response.js';
import { InvalidRequest, OAuthError, RequestTooLarge, ServerError, TemporarilyUnavailable, UnsupportedMediaType } from './errors.js';
import { respondJson } from './respond.js';

/** Maps anything thrown to an OAuth error (pure). Infrastructure failures become a retryable 503. */
export function toOAuthError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof StoreUnavailableError) return new TemporarilyUnavailable('the token store is unavailable, retry later', { debug: err.message });
  if (err instanceof IssuerUnavailableError) return new TemporarilyUnavailable('the issuer\'s keys cannot be fetched, retry later', { debug: err.message });
  const status = (err as { status?: unknown })?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const debug = (err as Error).message;
    if (status === 413) return new RequestTooLarge('request is too large', { debug });
    if (status === 415) return new UnsupportedMediaType('unsupported media type', { debug });
    return new InvalidRequest('request is malformed', { debug });
  }
  return new ServerError('internal error', { debug: (err as Error)?.stack ?? String(err) });
}

/**
 * The one error renderer: RFC 6749 §5.2 JSON, never internals. `onThrown` (metrics) sees what was
 * thrown before it becomes an OAuth error.
 */
export function renderErrors(logger: Logger, onThrown?: (thrown: unknown) => void) {
  return async function renderErrorsMiddleware(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
      if (ctx.body === undefined || ctx.body === null) {
        let status = ctx.status;
        // The router answers methods it has never heard of (TRACE, PROPFIND...) with 501; for a
        // client that is the same mistake as any other wrong method (RFC 9110 §15.5.6), not a 5xx.
        if (status === 501) status = 405;
        if (status === 404) respondJson(ctx, { error: 'not_found', error_description: 'no such endpoint' });
        else if (status === 405) respondJson(ctx, { error: 'method_not_allowed', error_description: 'method not allowed here' });
        ctx.status = status; // setting a body would otherwise turn the status into 200
      }
    } catch (thrown) {
      onThrown?.(thrown);
      const err = toOAuthError(thrown);
      ctx.state.error = err;
      if (err.status >= 500) {
        const log = requestLogger(ctx, logger);
        // What was thrown, as pino serializes an error: its real type, message, stack and cause.
        log[err instanceof ServerError ? 'error' : 'warn']({ err: thrown }, err.description);
      }
      respondWithError(ctx, err);
    }
  };
}
