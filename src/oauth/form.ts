import type { Context, Next } from 'koa';
import getRawBody from 'raw-body';
import { FORM_CONTENT_TYPE } from './constants.js';
import { InvalidRequest, RequestTooLarge } from './errors.js';

export type FormParams = ReadonlyMap<string, string>;

/**
 * RFC 6749 §3.2 / §3.1: parameters without a value count as omitted, unknown ones are ignored by the
 * grant, repeated ones are invalid_request.
 */
export function parseFormBody(body: string): FormParams {
  const params = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(body)) {
    if (value === '') continue;
    if (params.has(name)) throw new InvalidRequest(`parameter "${name.slice(0, 64)}" is repeated`);
    params.set(name, value);
  }
  return params;
}

/** Reads a request body with a size limit; 413 over it, 400 when the client aborts or lies about length. */
export async function readBody(ctx: Context, limit: number): Promise<string> {
  try {
    return await getRawBody(ctx.req, { limit, encoding: 'utf8', length: ctx.request.length });
  } catch (err) {
    const e = err as { type?: string };
    if (e.type === 'entity.too.large') throw new RequestTooLarge(`request body exceeds ${limit} bytes`);
    throw new InvalidRequest('request body could not be read', { debug: (err as Error).message });
  }
}

/** Middleware: the body must be application/x-www-form-urlencoded; result in ctx.state.form. */
export function parseForm(limit: number) {
  return async function parseFormMiddleware(ctx: Context, next: Next): Promise<void> {
    if (!ctx.request.is(FORM_CONTENT_TYPE)) {
      throw new InvalidRequest(`request body must be ${FORM_CONTENT_TYPE}`);
    }
    ctx.state.form = parseFormBody(await readBody(ctx, limit));
    await next();
  };
}

/** Middleware: RFC 6749 §5.1 responses carrying tokens must not be cached. Not async: hands on next()'s promise. */
export function noStore(ctx: Context, next: Next): Promise<void> {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
  return next();
}
