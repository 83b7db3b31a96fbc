import { z } from 'zod';

/**
 * All settings and their defaults live here (one documented place). Environment variables are the
 * external contract; see README "Configuration".
 */

export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/; // RFC 6749 §3.3 scope-token (NQCHAR)

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

const list = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

const intSetting = (min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

const issuerUrl = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a URL` });
    return;
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    ctx.addIssue({ code: 'custom', message: `"${value}" must use https (plain http only for loopback hosts)` });
  }
  if (url.search || url.hash || url.username || url.password) {
    ctx.addIssue({ code: 'custom', message: `"${value}" must not carry a query, fragment or credentials` });
  }
});

const EnvSchema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: intSetting(0, 65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, { error: 'must start with redis:// or rediss://' })
    .optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]*$/, { error: 'may hold only letters, digits, ":", "_" and "-"' })
    .default('ag:'),
  TRUSTED_ISSUERS: z.string().optional(),
  TOKEN_AUDIENCES: z.string().optional(),
  ASSERTION_ALGORITHMS: z.string().default('RS256'),
  CLOCK_SKEW_SECONDS: intSetting(0, 600).default(30),
  ACCESS_TOKEN_TTL_SECONDS: intSetting(1, 86400).default(3600),
  MAX_ASSERTION_LIFETIME_SECONDS: intSetting(60, 365 * 86400).default(30 * 86400),
  ASSERTION_MAX_BYTES: intSetting(512, 64 * 1024).default(16 * 1024),
  JWKS_COOLDOWN_SECONDS: intSetting(0, 86400).default(30),
  JWKS_MAX_AGE_SECONDS: intSetting(1, 604800).default(600),
  JWKS_TIMEOUT_MS: intSetting(100, 60000).default(5000),
  JWKS_MAX_BYTES: intSetting(1024, 10 * 1024 * 1024).default(256 * 1024),
  SUPPORTED_SCOPES: z.string().optional(),
  INGEST_STREAM_KEY: z.string().min(1).default('ingest'),
  INGEST_STREAM_MAXLEN: intSetting(1, 1_000_000_000).default(1_000_000),
  INGEST_MAX_BYTES: intSetting(1, 64 * 1024 * 1024).default(1024 * 1024),
  FORM_MAX_BYTES: intSetting(1024, 1024 * 1024).default(64 * 1024),
  REALM: z.string().regex(/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/, { error: 'must be printable ASCII without quotes or backslashes' }).default('assetgate'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_GRACE_MS: intSetting(0, 600000).default(10000),
  // Failed exchanges (token endpoint and bearer-sequence asset tokens) per window; 0 turns a limit off.
  RATE_LIMIT_FAILED_PER_IP: intSetting(0, 1_000_000).default(100),
  RATE_LIMIT_FAILED_PER_DEVICE: intSetting(0, 1_000_000).default(10),
  RATE_LIMIT_WINDOW_SECONDS: intSetting(1, 86400).default(60),
  HTTP_REQUEST_TIMEOUT_MS: intSetting(500, 600000).default(30000),
  HTTP_HEADERS_TIMEOUT_MS: intSetting(500, 600000).default(10000),
  HTTP_KEEPALIVE_TIMEOUT_MS: intSetting(0, 600000).default(5000),
  HTTP_MAX_HEADER_BYTES: intSetting(1024, 64 * 1024).default(16 * 1024),
});

export type Mode = 'production' | 'development' | 'test';

export interface Config {
  mode: Mode;
  port: number;
  host: string;
  publicUrl: string;
  tokenEndpoint: string;
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  /** Empty means: use the embedded development issuer. */
  trustedIssuers: string[];
  audiences: string[];
  algorithms: string[];
  clockSkewSeconds: number;
  accessTokenTtlSeconds: number;
  /** Assertions whose exp lies further ahead are refused (RFC 8725 §3.10 spirit: bounded trust). */
  maxAssertionLifetimeSeconds: number;
  assertionMaxBytes: number;
  jwks: { cooldownSeconds: number; maxAgeSeconds: number; timeoutMs: number; maxBytes: number };
  /** Undefined: any syntactically valid scope is granted as requested. */
  supportedScopes: string[] | undefined;
  ingest: { streamKey: string; maxLen: number; maxBytes: number };
  formMaxBytes: number;
  realm: string;
  logLevel: string;
  shutdownGraceMs: number;
  /** Failed exchanges allowed per client IP and per verified device in one window (0: no limit). */
  failureLimits: { perClient: number; perDevice: number; windowSeconds: number };
  /** Node HTTP server limits: slow or oversized requests are cut off before the app sees them. */
  http: { requestTimeoutMs: number; headersTimeoutMs: number; keepAliveTimeoutMs: number; maxHeaderBytes: number };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const ALLOWED_ALGORITHMS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);

/** Env -> one validated Config; throws ConfigError with one line naming the variable and problem. */
export function loadConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k in EnvSchema.shape && v !== undefined && v !== ''),
  );
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${String(issue.path[0] ?? 'config')}: ${issue.message}`);
  }
  const e = parsed.data;
  const mode: Mode = e.NODE_ENV === 'production' ? 'production' : e.NODE_ENV === 'test' ? 'test' : 'development';
  const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  const tokenEndpoint = `${publicUrl}/oauth2/token`;

  const trustedIssuers = list(e.TRUSTED_ISSUERS).map((s) => s.replace(/\/+$/, ''));
  for (const iss of trustedIssuers) {
    const check = issuerUrl.safeParse(iss);
    if (!check.success) throw new ConfigError(`TRUSTED_ISSUERS: ${check.error.issues[0]!.message}`);
  }
  if (mode === 'production' && trustedIssuers.length === 0) {
    throw new ConfigError('TRUSTED_ISSUERS: required in production (the development issuer is never used there)');
  }
  if (mode === 'production' && !e.REDIS_URL) {
    throw new ConfigError('REDIS_URL: required in production (the in-memory store is for development only)');
  }

  const algorithms = list(e.ASSERTION_ALGORITHMS);
  for (const alg of algorithms) {
    if (!ALLOWED_ALGORITHMS.has(alg)) {
      throw new ConfigError(`ASSERTION_ALGORITHMS: "${alg}" is not an asymmetric JWS algorithm this server accepts`);
    }
  }
  if (algorithms.length === 0) throw new ConfigError('ASSERTION_ALGORITHMS: must name at least one algorithm');

  const supportedScopes = e.SUPPORTED_SCOPES === undefined ? undefined : e.SUPPORTED_SCOPES.split(/[\s,]+/).filter(Boolean);
  for (const s of supportedScopes ?? []) {
    if (!SCOPE_TOKEN.test(s)) throw new ConfigError(`SUPPORTED_SCOPES: "${s}" is not a valid scope token`);
  }

  const audiences = list(e.TOKEN_AUDIENCES);
  return {
    mode,
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    tokenEndpoint,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    trustedIssuers,
    audiences: audiences.length > 0 ? audiences : [publicUrl, tokenEndpoint],
    algorithms,
    clockSkewSeconds: e.CLOCK_SKEW_SECONDS,
    accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
    maxAssertionLifetimeSeconds: e.MAX_ASSERTION_LIFETIME_SECONDS,
    assertionMaxBytes: e.ASSERTION_MAX_BYTES,
    jwks: {
      cooldownSeconds: e.JWKS_COOLDOWN_SECONDS,
      maxAgeSeconds: e.JWKS_MAX_AGE_SECONDS,
      timeoutMs: e.JWKS_TIMEOUT_MS,
      maxBytes: e.JWKS_MAX_BYTES,
    },
    supportedScopes,
    ingest: { streamKey: e.INGEST_STREAM_KEY, maxLen: e.INGEST_STREAM_MAXLEN, maxBytes: e.INGEST_MAX_BYTES },
    formMaxBytes: e.FORM_MAX_BYTES,
    realm: e.REALM,
    logLevel: e.LOG_LEVEL,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    failureLimits: {
      perClient: e.RATE_LIMIT_FAILED_PER_IP,
      perDevice: e.RATE_LIMIT_FAILED_PER_DEVICE,
      windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS,
    },
    http: {
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      // Node refuses a headers timeout above the request timeout.
      headersTimeoutMs: Math.min(e.HTTP_HEADERS_TIMEOUT_MS, e.HTTP_REQUEST_TIMEOUT_MS),
      keepAliveTimeoutMs: e.HTTP_KEEPALIVE_TIMEOUT_MS,
      maxHeaderBytes: e.HTTP_MAX_HEADER_BYTES,
    },
  };
}
