import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import { FORM_CONTENT_TYPE } from './constants.js';
import { InvalidRequest, RequestTooLarge, UnsupportedMediaType } from './errors.js';

/** The first value of each parameter; `repeated` holds the further values of a repeatable one. */
export type FormParams = ReadonlyMap<string, string> & { repeated?: ReadonlyMap<string, readonly string[]> };

const NOT_REPEATABLE: ReadonlySet<string> = new Set();

/** Every value of a repeatable parameter, in order (RFC 8707 §2 `resource`, RFC 8693 §2.1 `audience`). */
export function formValues(form: FormParams, name: string): string[] {
  const first = form.get(name);
  return first === undefined ? [] : [first, ...(form.repeated?.get(name) ?? [])];
}

function addRepeat(params: { repeated?: Map<string, string[]> }, name: string, value: string): void {
  params.repeated ??= new Map<string, string[]>();
  const more = params.repeated.get(name);
  if (more) more.push(value);
  else params.repeated.set(name, [value]);
}

/**
 * RFC 6749 §3.2 / §3.1: parameters without a value count as omitted, unknown ones are ignored by the
 * grant, repeated ones are invalid_request unless `repeatable` names them.
 */
export function parseFormBody(body: string, repeatable: ReadonlySet<string> = NOT_REPEATABLE): FormParams {
  const params: Map<string, string> & { repeated?: Map<string, string[]> } = new Map<string, string>();
  for (let start = 0; start < body.length; ) {
    let end = body.indexOf('&', start);
    if (end === -1) end = body.length;
    if (end > start) {
      const [name, value] = formPair(body.slice(start, end));
      if (value !== '') {
        if (!params.has(name)) params.set(name, value);
        else if (repeatable.has(name)) addRepeat(params, name, value);
        else throw new InvalidRequest(`parameter "${name.slice(0, 64)}" is repeated`);
      }
    }
    start = end + 1;
  }
  return params;
}

/**
 * One `name=value` of an application/x-www-form-urlencoded body (WHATWG URL §5.1), always decoded
 * exactly as URLSearchParams decodes it (URLSearchParams walks the text in JavaScript:
 * about 6 us for an assertion and 4 us for a short escaped pair like the grant type). Both split at
 * the first `=` before decoding; formDecode gives URLSearchParams' text wherever it succeeds (no
 * escape, or escapes that are well-formed UTF-8). Anything else (a stray `%`, bytes that are not
 * UTF-8, an escaped surrogate), where URLSearchParams keeps or replaces characters, goes to
 * URLSearchParams itself.
 */
function formPair(pair: string): [string, string] {
  const eq = pair.indexOf('=');
  const name = formDecode(eq === -1 ? pair : pair.slice(0, eq));
  const value = formDecode(eq === -1 ? '' : pair.slice(eq + 1));
  if (name !== null && value !== null) return [name, value];
  const [entry] = new URLSearchParams(pair); // a pair without '&' is exactly one entry
  return entry!;
}

/**
 * application/x-www-form-urlencoded decoding of one name or value: `+` as space, then
 * percent-decoding as UTF-8; null where the escapes are not well-formed UTF-8.
 */
export function formDecode(text: string): string | null {
  const spaced = text.includes('+') ? text.replaceAll('+', ' ') : text;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return null;
  }
}

/**
 * Reads a request body as UTF-8 with a size limit: 413 over it (at once when Content-Length says
 * so), 400 when the client aborts or sends another length than it announced. Lean on purpose (it reads
 * the form of every exchange and introspection): no decoder stream and at most one
 * Buffer.concat; slow bodies are cut off by the HTTP server's requestTimeout (408).
 */
export function readBody(ctx: Context, limit: number): Promise<string> {
  // No reader decodes a content coding: a coded body read as plain text would be stored as its raw
  // bytes or refused for the wrong reason. RFC 9110 §8.4.1 / RFC 7694 §3: 415.
  const coding = ctx.get('content-encoding').trim().toLowerCase();
  if (coding !== '' && coding !== 'identity') return Promise.reject(new UnsupportedMediaType('request body content coding is not supported: send it unencoded'));
  const declared = ctx.request.length;
  if (declared !== undefined && declared > limit) return Promise.reject(new RequestTooLarge(`request body exceeds ${limit} bytes`));
  return readStream(ctx.req, limit, declared);
}

function readStream(req: IncomingMessage, limit: number, declared: number | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const unreadable = (debug: string) => new InvalidRequest('request body could not be read', { debug });
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        stop();
        reject(new RequestTooLarge(`request body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      if (declared !== undefined && received !== declared) {
        reject(unreadable(`request size did not match content length (${received} of ${declared} bytes)`));
        return;
      }
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
      resolve(body.toString('utf8'));
    };
    const onError = (err: Error) => {
      stop();
      reject(unreadable(err.message));
    };
    const onClose = () => {
      stop();
      reject(unreadable('request aborted'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * The media type of the request body, lower-cased and without parameters; '' when the request has
 * no body (neither Content-Length nor Transfer-Encoding) or no Content-Type. What `ctx.request.is()`
 * decides for one exact type, without its parsing (per request, for every body).
 */
export function bodyMediaType(ctx: Context): string {
  const headers = ctx.req.headers;
  if (headers['transfer-encoding'] === undefined && headers['content-length'] === undefined) return '';
  const header = headers['content-type'];
  if (header === undefined) return '';
  const semicolon = header.indexOf(';');
  return (semicolon < 0 ? header : header.slice(0, semicolon)).trim().toLowerCase();
}

/** application/json or any `+json` structured syntax suffix (RFC 6839 §3.1), as bodyMediaType gives it. */
export const isJsonMediaType = (type: string): boolean => type === 'application/json' || (type.endsWith('+json') && type.includes('/'));

/** Middleware: the body must be application/x-www-form-urlencoded; result in ctx.state.form. */
export function parseForm(limit: number, repeatable: ReadonlySet<string> = NOT_REPEATABLE) {
  return async function parseFormMiddleware(ctx: Context, next: Next): Promise<void> {
    if (bodyMediaType(ctx) !== FORM_CONTENT_TYPE) {
      throw new InvalidRequest(`request body must be ${FORM_CONTENT_TYPE}`);
    }
    ctx.state.form = parseFormBody(await readBody(ctx, limit), repeatable);
    await next();
  };
}

/** Middleware: RFC 6749 §5.1 responses carrying tokens must not be cached. Not async: hands on next()'s promise. */
export function noStore(ctx: Context, next: Next): Promise<void> {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
  return next();
}
