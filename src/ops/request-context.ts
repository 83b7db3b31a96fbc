import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { nanoid } from 'nanoid';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * The request's logger (a pino child carrying reqId), made on first use: at LOG_LEVEL=warn a
 * successful request costs no logger work (issue 5, hot path).
 */
export function requestLogger(ctx: Context, logger: Logger): Logger {
  return ((ctx.state.log as Logger | undefined) ??= logger.child({ reqId: ctx.state.requestId as string }));
}

/** Request id (taken from X-Request-Id when sane), and one access-log line when info is on. */
export function requestContext(logger: Logger) {
  return async function requestContextMiddleware(ctx: Context, next: Next): Promise<void> {
    const started = process.hrtime.bigint();
    const incoming = ctx.get('x-request-id');
    const id = SAFE_REQUEST_ID.test(incoming) ? incoming : nanoid(16);
    ctx.state.requestId = id;
    ctx.set('X-Request-Id', id);
    try {
      await next();
    } finally {
      if (logger.isLevelEnabled('info')) accessLog(ctx, requestLogger(ctx, logger), started);
    }
  };
}

function accessLog(ctx: Context, log: Logger, started: bigint): void {
  const err = ctx.state.error as { code?: string; debug?: string } | undefined;
  log.info(
    {
      method: ctx.method,
      route: (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? ctx.path.slice(0, 100),
      status: ctx.status,
      ms: Number(process.hrtime.bigint() - started) / 1e6,
      ...(err?.code ? { error: err.code } : {}),
      ...(err?.debug && ctx.status < 500 ? { debug: err.debug.slice(0, 300) } : {}),
    },
    'request',
  );
}

/** Baseline security headers; no server banner. */
export async function securityHeaders(ctx: Context, next: Next): Promise<void> {
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
  await next();
}
