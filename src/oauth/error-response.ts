import type { Context } from 'koa';
import { MissingCredentials, type OAuthError } from './errors.js';
import { respondJson } from './respond.js';

/**
 * Writes an OAuth error as the response: its status and headers (challenges, Retry-After),
 * `Cache-Control: no-store`, and the RFC 6749 §5.2 JSON body; a request without credentials gets
 * the bare 401 of RFC 6750 §3.1 (empty body). The server's renderer and the guard library both
 * answer through here, so the two never disagree on the shape.
 */
export function respondWithError(ctx: Context, err: OAuthError): void {
  ctx.status = err.status;
  ctx.set('Cache-Control', 'no-store');
  for (const name in err.headers) ctx.set(name, err.headers[name]!);
  if (err instanceof MissingCredentials) ctx.body = '';
  else respondJson(ctx, err.toJSON());
}
