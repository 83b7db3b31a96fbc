import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { nanoid } from 'nanoid';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Generated request ids: a random per-process prefix and a counter (16 characters, like a
 * nanoid(16)); unique per process and cheaper than drawing random bytes per request (issue 5).
 */
const ID_PREFIX = nanoid(8);
const ID_COUNTER_SPACE = 36 ** 8;
let idCounter = 0;
function nextRequestId(): string {
  idCounter = (idCounter + 1) % ID_COUNTER_SPACE;
  return ID_PREFIX + idCounter.toString(36).padStart(8, '0');
}

/** Baseline security headers; no server banner. Built once, written straight to the response. */
const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
];

/** Called once per request when the response is settled (metrics): seconds since the request started. */
export type RequestObserver = (ctx: Context, seconds: number) => void;

/**
 * The request's logger (a pino child carrying reqId), made on first use: at LOG_LEVEL=warn a
 * successful request costs no logger work (issue 5, hot path).
 */
export function requestLogger(ctx: Context, logger: Logger): Logger {
  return ((ctx.state.log as Logger | undefined) ??= logger.child({ reqId: ctx.state.requestId as string }));
}

/**
 * The outermost frame of every request: request id (taken from X-Request-Id when sane), security
 * headers, then, once the response is settled, the observer (metrics) and one access-log line when
 * info is on. One middleware rather than three: each koa middleware level costs a closure and a
 * promise per request (issue 5).
 */
export function requestContext(logger: Logger, observe?: RequestObserver) {
  return async function requestContextMiddleware(ctx: Context, next: Next): Promise<void> {
    const started = performance.now(); // a double: no BigInt per request
    const incoming = ctx.req.headers['x-request-id'];
    const id = typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : nextRequestId();
    ctx.state.requestId = id;
    const res = ctx.res;
    res.setHeader('X-Request-Id', id);
    for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
    try {
      await next();
    } finally {
      observe?.(ctx, (performance.now() - started) / 1000);
      if (logger.isLevelEnabled('info')) accessLog(ctx, requestLogger(ctx, logger), started);
    }
  };
}

function accessLog(ctx: Context, log: Logger, started: number): void {
  const err = ctx.state.error as { code?: string; debug?: string } | undefined;
  log.info(
    {
      method: ctx.method,
      route: (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? ctx.path.slice(0, 100),
      status: ctx.status,
      ms: performance.now() - started,
      ...(err?.code ? { error: err.code } : {}),
      ...(err?.debug && ctx.status < 500 ? { debug: err.debug.slice(0, 300) } : {}),
    },
    'request',
  );
}
