import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { nanoid } from 'nanoid';
import { PATHS } from '../oauth/constants.js';
import { accessLoggerOf } from './logger.js';
import type { Principal } from '../resource/guard.js';
import { RequestState } from '../request-state.js';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Generated request ids: a random per-process prefix and a counter (16 characters, like a
 * nanoid(16)); unique per process and cheaper than drawing random bytes per request.
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

/** What became of one request: told once per request, when the response is settled. */
export interface RequestOutcome {
  /** The matched route's path pattern (a bounded set), or `unmatched`. */
  route: string;
  method: string;
  status: number;
  /** `ok`, the OAuth error code, `unauthenticated` (no credentials) or `http_<status>`. */
  outcome: string;
  seconds: number;
  /** The grant type the token endpoint handled, if it got that far. */
  grantType: string | undefined;
  /** Who called a resource, once authenticated. */
  principal: Principal | undefined;
}

/** A subscriber to request outcomes (metrics, the development activity page; wired in app.ts). */
export type RequestObserver = (outcome: RequestOutcome) => void;

/** An event accepted at /ingestapi: the route, and the 202 of an appended event. */
export const isIngested = (o: RequestOutcome): boolean => o.status === 202 && o.route === PATHS.ingest;

/**
 * The request's logger (a pino child carrying reqId), made on first use: only a request that logs
 * more than its access line (a 5xx) makes one.
 */
export function requestLogger(ctx: Context, logger: Logger): Logger {
  return (ctx.state.log ??= logger.child({ reqId: ctx.state.requestId }));
}

/**
 * The outermost frame of every request: request id (taken from X-Request-Id when sane), security
 * headers, then, once the response is settled, the observer (metrics) and one access-log line when
 * info is on. One middleware rather than three: each koa middleware level costs a closure and a
 * promise per request.
 */
export function requestContext(logger: Logger, observe?: RequestObserver) {
  const access = accessLoggerOf(logger);
  return async function requestContextMiddleware(ctx: Context, next: Next): Promise<void> {
    const started = performance.now(); // a double: no BigInt per request
    const incoming = ctx.req.headers['x-request-id'];
    const id = typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : nextRequestId();
    ctx.state = new RequestState(id);
    const res = ctx.res;
    res.setHeader('X-Request-Id', id);
    for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
    try {
      await next();
    } finally {
      if (observe) observe(outcomeOf(ctx, (performance.now() - started) / 1000));
      // Health probes arrive every few seconds from each load balancer and orchestrator: their
      // lines are debug, so the info log stays a log of requests.
      const level = ctx.state.route === PATHS.healthz || ctx.state.route === PATHS.readyz ? 'debug' : 'info';
      if (access.isLevelEnabled(level)) accessLog(ctx, access, started, level);
    }
  };
}

function outcomeOf(ctx: Context, seconds: number): RequestOutcome {
  const { error, route, grantType, principal } = ctx.state;
  const status = ctx.status;
  const outcome = error ? error.code || 'unauthenticated' : status < 400 ? 'ok' : `http_${status}`;
  return { route: route ?? 'unmatched', method: ctx.method, status, outcome, seconds, grantType, principal };
}

/** One line per request; the request id as a field, not through a child logger made per request. */
function accessLog(ctx: Context, log: Logger, started: number, level: 'info' | 'debug'): void {
  const { error, route, requestId } = ctx.state;
  // Built in one shape, the refusal's fields added only to a refusal's line (no object spreads).
  const line: { reqId: string | undefined; method: string; route: string; status: number; ms: number; error?: string; debug?: string } = {
    reqId: requestId,
    method: ctx.method,
    route: route ?? ctx.path.slice(0, 100),
    status: ctx.status,
    ms: performance.now() - started,
  };
  if (error?.code) line.error = error.code;
  if (error?.debug && ctx.status < 500) line.debug = error.debug.slice(0, 300);
  log[level](line, 'request');
}
