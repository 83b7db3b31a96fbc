import type { Context, Next } from 'koa';
import { InvalidRequest, UnsupportedMediaType } from '../oauth/errors.js';
import { bodyMediaType, isJsonMediaType, readBody } from '../oauth/form.js';

/** Middleware: JSON bodies only (415 otherwise), size-limited (413), well-formed (400). Text in ctx.state.jsonText. */
export function parseJsonBody(limit: number) {
  return async function parseJsonBodyMiddleware(ctx: Context, next: Next): Promise<void> {
    if (!isJsonMediaType(bodyMediaType(ctx))) {
      throw new UnsupportedMediaType('request body must be application/json');
    }
    const text = await readBody(ctx, limit);
    try {
      JSON.parse(text);
    } catch {
      throw new InvalidRequest('request body is not valid JSON');
    }
    ctx.state.jsonText = text;
    await next();
  };
}
