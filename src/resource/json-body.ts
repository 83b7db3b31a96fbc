import type { Context, Next } from 'koa';
import { InvalidRequest, UnsupportedMediaType } from '../oauth/errors.js';
import { bodyMediaType, isJsonMediaType, readBody } from '../oauth/form.js';

/** JSON text from a client (a body, or a field carrying JSON): 400 when it does not parse, never a 500. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new InvalidRequest(`${what} is not valid JSON`);
  }
}

/**
 * The one JSON body reader (ingest, the admin API, the development issuer): a JSON media type
 * (RFC 6839 `+json` too) or 415, at most `limit` bytes or 413, well-formed or 400. `optional`: an
 * empty body, of any type, is undefined instead of a 415.
 */
export async function readJsonBody(ctx: Context, limit: number, options: { optional?: boolean } = {}): Promise<{ text: string; value: unknown } | undefined> {
  if (!isJsonMediaType(bodyMediaType(ctx))) {
    // A required body of another type is refused before a byte of it is read.
    if (options.optional && (await readBody(ctx, limit)).trim() === '') return undefined;
    throw new UnsupportedMediaType('request body must be application/json');
  }
  const text = await readBody(ctx, limit);
  if (options.optional && text.trim() === '') return undefined;
  return { text, value: parseJson(text, 'request body') };
}

/** Middleware: a required JSON body, its text in ctx.state.jsonText. */
export function parseJsonBody(limit: number) {
  return async function parseJsonBodyMiddleware(ctx: Context, next: Next): Promise<void> {
    ctx.state.jsonText = (await readJsonBody(ctx, limit))!.text;
    await next();
  };
}
