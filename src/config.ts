import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { DEFAULT_CLOCK_SKEW_SECONDS } from './clock.js';
import { DEFAULT_DPOP_ALGORITHMS, DEFAULT_DPOP_IAT_WINDOW_SECONDS, DPOP_ALLOWED_ALGORITHMS } from './dpop/constants.js';
import { DEFAULT_REALM } from './oauth/constants.js';
import { DEFAULT_KEY_PREFIX } from './tokens/keys.js';
import { PROOF_OF_POSSESSION_POLICIES, type ProofOfPossession } from './dpop/policy.js';
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

/** How long a command or a connection attempt may take before the request gets its 503. */
export interface RedisTimeouts {
  commandMs: number;
  connectMs: number;
}

/** Defaults of REDIS_COMMAND_TIMEOUT_MS and REDIS_CONNECT_TIMEOUT_MS, also of createRedisClient(url) used directly. */
export const DEFAULT_REDIS_TIMEOUTS: RedisTimeouts = { commandMs: 2000, connectMs: 2000 };

export const EnvSchema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: intSetting(0, 65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, { error: 'must start with redis:// or rediss://' })
    .optional(),
  REDIS_CLUSTER_NODES: z.string().optional(),
  REDIS_SENTINELS: z.string().optional(),
  REDIS_SENTINEL_NAME: z.string().min(1).optional(),
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  REDIS_TLS: z.enum(['true', 'false', '1', '0']).optional(),
  REDIS_COMMAND_TIMEOUT_MS: intSetting(50, 60_000).default(DEFAULT_REDIS_TIMEOUTS.commandMs),
  REDIS_CONNECT_TIMEOUT_MS: intSetting(50, 60_000).default(DEFAULT_REDIS_TIMEOUTS.connectMs),
  WORKERS: intSetting(1, 256).optional(),
  RESOURCE_CACHE_TTL_MS: intSetting(0, 60_000).default(0),
  RESOURCE_CACHE_MAX_ENTRIES: intSetting(1, 10_000_000).default(100_000),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]*$/, { error: 'may hold only letters, digits, ":", "_" and "-"' })
    .default(DEFAULT_KEY_PREFIX),
  TRUSTED_ISSUERS: z.string().optional(),
  TOKEN_AUDIENCES: z.string().optional(),
  ASSERTION_ALGORITHMS: z.string().default('RS256'),
  CLOCK_SKEW_SECONDS: intSetting(0, 600).default(DEFAULT_CLOCK_SKEW_SECONDS),
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
  REALM: z.string().regex(/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/, { error: 'must be printable ASCII without quotes or backslashes' }).default(DEFAULT_REALM),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_GRACE_MS: intSetting(0, 600000).default(10000),
  INTROSPECTION_CLIENTS: z.string().optional(),
  ADMIN_API_KEY: z.string().optional(),
  PROOF_OF_POSSESSION: z.enum(PROOF_OF_POSSESSION_POLICIES, { error: 'must be off, optional or required' }).default('optional'),
  DPOP_ALGORITHMS: z.string().default(DEFAULT_DPOP_ALGORITHMS.join(',')),
  DPOP_IAT_WINDOW_SECONDS: intSetting(1, 3600).default(DEFAULT_DPOP_IAT_WINDOW_SECONDS),
  DPOP_NONCE_SECRET: z.string().min(32, { error: 'must be at least 32 characters (a random secret shared by every instance)' }).optional(),
  DPOP_NONCE_LIFETIME_SECONDS: intSetting(10, 86400).default(300),
  METRICS_TOKEN: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  // Failed exchanges (token endpoint and bearer-sequence asset tokens) per window; 0 turns a limit off.
  RATE_LIMIT_FAILED_PER_IP: intSetting(0, 1_000_000).default(100),
  RATE_LIMIT_FAILED_PER_DEVICE: intSetting(0, 1_000_000).default(10),
  RATE_LIMIT_WINDOW_SECONDS: intSetting(1, 86400).default(60),
  HTTP_REQUEST_TIMEOUT_MS: intSetting(500, 600000).default(30000),
  HTTP_HEADERS_TIMEOUT_MS: intSetting(500, 600000).default(10000),
  HTTP_KEEPALIVE_TIMEOUT_MS: intSetting(0, 600000).default(5000),
  HTTP_MAX_HEADER_BYTES: intSetting(1024, 64 * 1024).default(16 * 1024),
  TRUSTED_PROXY_HOPS: intSetting(0, 10).default(0),
});

export type Mode = 'production' | 'development' | 'test';

export interface Config {
  mode: Mode;
  port: number;
  host: string;
  publicUrl: string;
  tokenEndpoint: string;
  redisUrl: string | undefined;
  /** How to reach Redis: one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS; undefined = memory store. */
  redis: RedisTopology | undefined;
  /** Processes sharing the port (WORKERS); default one per core in production, else 1. */
  workers: number;
  /** In-process cache of access-token lookups at the resource routes; ttlMs 0 = off (the default). */
  resourceCache: { ttlMs: number; maxEntries: number };
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
  /** Resource servers allowed to call /oauth2/introspect and /oauth2/revoke (RFC 7662 §2.1, RFC 7009 §2.1). */
  introspectionClients: ClientCredential[];
  /** Bearer key of the administrative API; undefined: the admin endpoints are not mounted. */
  adminApiKey: string | undefined;
  /** Proof of possession (RFC 9449 DPoP); see src/dpop/policy.ts for what each policy means. */
  dpop: {
    /** Global default; a trusted issuer's own `proofOfPossession` overrides it. */
    proofOfPossession: ProofOfPossession;
    algorithms: string[];
    /** A proof's iat may lie this far in the past (plus CLOCK_SKEW_SECONDS). */
    iatWindowSeconds: number;
    /** Set: stateless server nonces are demanded (RFC 9449 §8). */
    nonce: { secret: string; lifetimeSeconds: number } | undefined;
  };
  /** Per-issuer settings, one per entry of trustedIssuers (defaults filled from the global settings). */
  issuers: IssuerConfig[];
  /** When set, GET /metrics wants `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  /** The configuration file the settings came from, if any. */
  configFile: string | undefined;
  /** Failed exchanges allowed per client IP and per verified device in one window (0: no limit). */
  failureLimits: { perClient: number; perDevice: number; windowSeconds: number };
  /** Node HTTP server limits: slow or oversized requests are cut off before the app sees them. */
  http: { requestTimeoutMs: number; headersTimeoutMs: number; keepAliveTimeoutMs: number; maxHeaderBytes: number };
  /**
   * Reverse proxies in front of the server that append to X-Forwarded-For. 0: the client address
   * is the socket's peer (no header is trusted); N: the Nth address from the right of the header.
   */
  trustedProxyHops: number;
}

export const CLAIM_PROFILES = ['salesforce-asset-token', 'generic-jwt'] as const;
export type ClaimProfile = (typeof CLAIM_PROFILES)[number];

/** One trusted issuer as the server uses it. */
export interface IssuerConfig {
  issuer: string;
  jwksUrl: string;
  algorithms: string[];
  audiences: string[];
  /** salesforce-asset-token: subject is `did` (else `sub`); generic-jwt: `sub` is required. */
  profile: ClaimProfile;
  /** Overrides the global PROOF_OF_POSSESSION for this issuer (RFC 9449); undefined: the global policy. */
  proofOfPossession: ProofOfPossession | undefined;
  /** When set, the token's `aid` must be one of these. */
  allowedAssetIds: string[] | undefined;
}


/** What a configuration file adds under the environment (see config-file.ts); already validated. */
export interface ConfigLayer {
  /** The file's path, named in every error about a value from it. */
  source: string;
  /** Environment-variable-named settings; the environment wins. */
  settings: Record<string, string>;
  issuers: Array<Partial<Omit<IssuerConfig, 'issuer'>> & { issuer: string }>;
  introspectionClients: ClientCredential[];
}


export interface ClientCredential {
  id: string;
  secret: string;
}

export interface HostPort {
  host: string;
  port: number;
}

export interface RedisAuth {
  username?: string;
  password?: string;
  tls: boolean;
}

export type RedisTopology = (
  | { kind: 'standalone'; url: string; auth: RedisAuth }
  | { kind: 'cluster'; nodes: HostPort[]; auth: RedisAuth }
  | { kind: 'sentinel'; sentinels: HostPort[]; name: string; sentinelPassword?: string; auth: RedisAuth }
) & { timeouts: RedisTimeouts };

function hostPorts(variable: string, value: string): HostPort[] {
  const nodes = list(value).map((item) => {
    const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(item);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) throw new ConfigError(`${variable}: "${item}" is not host:port`);
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
  });
  if (nodes.length === 0) throw new ConfigError(`${variable}: must list at least one host:port`);
  return nodes;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const ALLOWED_ALGORITHMS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);

function redisTopology(e: z.infer<typeof EnvSchema>): RedisTopology | undefined {
  const chosen = [e.REDIS_URL && 'REDIS_URL', e.REDIS_CLUSTER_NODES && 'REDIS_CLUSTER_NODES', e.REDIS_SENTINELS && 'REDIS_SENTINELS'].filter(Boolean);
  if (chosen.length > 1) throw new ConfigError(`${String(chosen[1])}: set only one of ${chosen.join(', ')}`);
  const auth: RedisAuth = { tls: e.REDIS_TLS === 'true' || e.REDIS_TLS === '1' };
  if (e.REDIS_USERNAME) auth.username = e.REDIS_USERNAME;
  if (e.REDIS_PASSWORD) auth.password = e.REDIS_PASSWORD;
  const timeouts: RedisTimeouts = { commandMs: e.REDIS_COMMAND_TIMEOUT_MS, connectMs: e.REDIS_CONNECT_TIMEOUT_MS };
  if (e.REDIS_URL) {
    if (e.REDIS_URL.startsWith('rediss://')) auth.tls = true;
    return { kind: 'standalone', url: e.REDIS_URL, auth, timeouts };
  }
  if (e.REDIS_CLUSTER_NODES) return { kind: 'cluster', nodes: hostPorts('REDIS_CLUSTER_NODES', e.REDIS_CLUSTER_NODES), auth, timeouts };
  if (e.REDIS_SENTINELS) {
    if (!e.REDIS_SENTINEL_NAME) throw new ConfigError('REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the monitored master name)');
    const topology: RedisTopology = { kind: 'sentinel', sentinels: hostPorts('REDIS_SENTINELS', e.REDIS_SENTINELS), name: e.REDIS_SENTINEL_NAME, auth, timeouts };
    if (e.REDIS_SENTINEL_PASSWORD) topology.sentinelPassword = e.REDIS_SENTINEL_PASSWORD;
    return topology;
  }
  return undefined;
}

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
  const redis = redisTopology(e);
  if (mode === 'production' && !redis) {
    throw new ConfigError('REDIS_URL: required in production, or REDIS_CLUSTER_NODES / REDIS_SENTINELS (the in-memory store is for development only)');
  }
  // The memory store and the development issuer's key live in one process: one worker only.
  const workers = e.WORKERS ?? (mode === 'production' ? availableParallelism() : 1);
  if (workers > 1 && (!redis || trustedIssuers.length === 0)) {
    throw new ConfigError('WORKERS: more than one worker needs Redis and TRUSTED_ISSUERS (memory store and development issuer are per process)');
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

  const dpopAlgorithms = list(e.DPOP_ALGORITHMS);
  for (const alg of dpopAlgorithms) {
    if (!DPOP_ALLOWED_ALGORITHMS.includes(alg)) throw new ConfigError(`DPOP_ALGORITHMS: "${alg}" is not an asymmetric JWS algorithm this server accepts`);
  }
  if (dpopAlgorithms.length === 0) throw new ConfigError('DPOP_ALGORITHMS: must name at least one algorithm');

  const introspectionClients = parseClientCredentials(e.INTROSPECTION_CLIENTS);
  if (e.ADMIN_API_KEY !== undefined && !ADMIN_KEY.test(e.ADMIN_API_KEY)) {
    throw new ConfigError(`ADMIN_API_KEY: must be at least ${MIN_SECRET_LENGTH} characters of token68 (letters, digits, -._~+/)`);
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
      proofOfPossession: own?.proofOfPossession,
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
    redis,
    workers,
    resourceCache: { ttlMs: e.RESOURCE_CACHE_TTL_MS, maxEntries: e.RESOURCE_CACHE_MAX_ENTRIES },
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
    introspectionClients: [...introspectionClients, ...(layer?.introspectionClients ?? [])],
    adminApiKey: e.ADMIN_API_KEY,
    dpop: {
      proofOfPossession: e.PROOF_OF_POSSESSION,
      algorithms: dpopAlgorithms,
      iatWindowSeconds: e.DPOP_IAT_WINDOW_SECONDS,
      nonce: e.DPOP_NONCE_SECRET === undefined ? undefined : { secret: e.DPOP_NONCE_SECRET, lifetimeSeconds: e.DPOP_NONCE_LIFETIME_SECONDS },
    },
    issuers,
    metricsToken: e.METRICS_TOKEN,
    configFile: layer?.source,
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
    trustedProxyHops: e.TRUSTED_PROXY_HOPS,
  };
}

const MIN_SECRET_LENGTH = 16;
// RFC 6749 Appendix A.1 / A.2: client_id and client_secret are VSCHAR; ':' and ',' separate entries here.
const CLIENT_ID = /^[\x21-\x2B\x2D-\x39\x3B-\x7E]{1,128}$/;
const CLIENT_SECRET = new RegExp(`^[\\x21-\\x2B\\x2D-\\x7E]{${MIN_SECRET_LENGTH},256}$`);
// RFC 6750 §2.1 b64token, so the key can travel in `Authorization: Bearer`.
const ADMIN_KEY = new RegExp(`^[A-Za-z0-9\\-._~+/]{${MIN_SECRET_LENGTH},512}=*$`);

/**
 * INTROSPECTION_CLIENTS: `id:secret,id2:secret2`. Error messages name the entry by position and id,
 * never the secret.
 */
export function parseClientCredentials(value: string | undefined): ClientCredential[] {
  const clients: ClientCredential[] = [];
  list(value).forEach((entry, index) => {
    const colon = entry.indexOf(':');
    const id = colon < 0 ? entry : entry.slice(0, colon);
    const secret = colon < 0 ? '' : entry.slice(colon + 1);
    const where = `entry ${index + 1}`;
    if (!CLIENT_ID.test(id)) {
      throw new ConfigError(`INTROSPECTION_CLIENTS: ${where}: client id must be 1-128 printable characters without ":" or ","`);
    }
    if (!CLIENT_SECRET.test(secret)) {
      throw new ConfigError(
        `INTROSPECTION_CLIENTS: ${where} ("${id}"): secret must follow "id:" and be ${MIN_SECRET_LENGTH}-256 printable characters without ","`,
      );
    }
    if (clients.some((c) => c.id === id)) throw new ConfigError(`INTROSPECTION_CLIENTS: client id "${id}" appears twice`);
    clients.push({ id, secret });
  });
  return clients;
}
