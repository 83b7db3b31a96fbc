import { z } from 'zod';
import { jwksUrlOf } from './assertion/issuers.js';

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

export const issuerUrl = z.string().superRefine((value, ctx) => {
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

export const EnvSchema = z.object({
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
  METRICS_TOKEN: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
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
  /** Per-issuer settings, one per entry of trustedIssuers (defaults filled from the global settings). */
  issuers: IssuerConfig[];
  /** RFC 7662 callers (from the configuration file). */
  introspectionClients: IntrospectionClient[];
  /** When set, GET /metrics wants `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  /** The configuration file the settings came from, if any. */
  configFile: string | undefined;
}

export const CLAIM_PROFILES = ['salesforce-asset-token', 'generic-jwt'] as const;
export type ClaimProfile = (typeof CLAIM_PROFILES)[number];
export const POP_POLICIES = ['off', 'optional', 'required'] as const;
export type ProofOfPossessionPolicy = (typeof POP_POLICIES)[number];

/** One trusted issuer as the server uses it. */
export interface IssuerConfig {
  issuer: string;
  jwksUrl: string;
  algorithms: string[];
  audiences: string[];
  /** salesforce-asset-token: subject is `did` (else `sub`); generic-jwt: `sub` is required. */
  profile: ClaimProfile;
  /** Carried for the DPoP work (RFC 9449); not enforced here. */
  proofOfPossession: ProofOfPossessionPolicy;
  /** When set, the token's `aid` must be one of these. */
  allowedAssetIds: string[] | undefined;
}

export interface IntrospectionClient {
  clientId: string;
  clientSecret: string;
}

/** What a configuration file adds under the environment (see config-file.ts); already validated. */
export interface ConfigLayer {
  /** The file's path, named in every error about a value from it. */
  source: string;
  /** Environment-variable-named settings; the environment wins. */
  settings: Record<string, string>;
  issuers: Array<Partial<Omit<IssuerConfig, 'issuer'>> & { issuer: string }>;
  introspectionClients: IntrospectionClient[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const ALLOWED_ALGORITHMS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);

/**
 * Env (over an optional file layer) -> one validated Config; throws ConfigError with one line naming
 * the variable (or the file and the path inside it) and the problem.
 */
export function loadConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined>, layer?: ConfigLayer): Config {
  const fromEnv = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k in EnvSchema.shape && v !== undefined && v !== ''),
  );
  const cleaned = { ...(layer?.settings ?? {}), ...fromEnv };
  // Names a setting where it came from: the variable, or the file and its path.
  const where = (name: string): string => (layer && !(name in fromEnv) && name in layer.settings ? `${layer.source}: settings.${name}` : name);
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${where(String(issue.path[0] ?? 'config'))}: ${issue.message}`);
  }
  const e = parsed.data;
  const mode: Mode = e.NODE_ENV === 'production' ? 'production' : e.NODE_ENV === 'test' ? 'test' : 'development';
  const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  const tokenEndpoint = `${publicUrl}/oauth2/token`;

  // TRUSTED_ISSUERS (env, else the file's settings) chooses the issuers; without it, the file's list.
  const trustedIssuers =
    e.TRUSTED_ISSUERS !== undefined || !layer?.issuers.length
      ? list(e.TRUSTED_ISSUERS).map((s) => s.replace(/\/+$/, ''))
      : layer.issuers.map((i) => i.issuer);
  for (const iss of trustedIssuers) {
    const check = issuerUrl.safeParse(iss);
    if (!check.success) throw new ConfigError(`${where('TRUSTED_ISSUERS')}: ${check.error.issues[0]!.message}`);
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
      throw new ConfigError(`${where('ASSERTION_ALGORITHMS')}: "${alg}" is not an asymmetric JWS algorithm this server accepts`);
    }
  }
  if (algorithms.length === 0) throw new ConfigError(`${where('ASSERTION_ALGORITHMS')}: must name at least one algorithm`);

  const supportedScopes = e.SUPPORTED_SCOPES === undefined ? undefined : e.SUPPORTED_SCOPES.split(/[\s,]+/).filter(Boolean);
  for (const s of supportedScopes ?? []) {
    if (!SCOPE_TOKEN.test(s)) throw new ConfigError(`${where('SUPPORTED_SCOPES')}: "${s}" is not a valid scope token`);
  }

  const configured = list(e.TOKEN_AUDIENCES);
  const audiences = configured.length > 0 ? configured : [publicUrl, tokenEndpoint];
  const fileIssuers = new Map((layer?.issuers ?? []).map((i) => [i.issuer.replace(/\/+$/, ''), i]));
  const issuers: IssuerConfig[] = trustedIssuers.map((issuer) => {
    const own = fileIssuers.get(issuer);
    return {
      issuer,
      jwksUrl: own?.jwksUrl ?? jwksUrlOf(issuer),
      algorithms: own?.algorithms ?? algorithms,
      audiences: own?.audiences ?? audiences,
      profile: own?.profile ?? 'salesforce-asset-token',
      proofOfPossession: own?.proofOfPossession ?? 'off',
      allowedAssetIds: own?.allowedAssetIds,
    };
  });
  return {
    mode,
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    tokenEndpoint,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    trustedIssuers,
    audiences,
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
    issuers,
    introspectionClients: layer?.introspectionClients ?? [],
    metricsToken: e.METRICS_TOKEN,
    configFile: layer?.source,
  };
}
