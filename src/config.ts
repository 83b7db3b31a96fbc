import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { DEFAULT_CLAIM_PROFILE } from './assertion/claims-policy.js';
import { ASSERTION_ALGORITHMS, issuerUrlProblem, jwksUrlOf, type IssuerConfig } from './assertion/issuers.js';
import { DEFAULT_CLOCK_SKEW_SECONDS } from './clock.js';
import type { DpopSettings } from './dpop/context.js';
import { DEFAULT_DPOP_ALGORITHMS, DEFAULT_DPOP_IAT_WINDOW_SECONDS, DPOP_ALLOWED_ALGORITHMS } from './dpop/constants.js';
import { PROOF_OF_POSSESSION_POLICIES } from './dpop/policy.js';
import { MIN_SECRET_LENGTH, type ClientCredential } from './oauth/client-auth.js';
import type { IngestLimits } from './ingest/event.js';
import { DEFAULT_INGEST_PARTITIONS, MAX_INGEST_PARTITIONS } from './ingest/partitions.js';
import { DEFAULT_REALM } from './oauth/constants.js';
import { ResourceCatalog, resourceIdentifierProblem, type ResourceServer } from './oauth/resources.js';
import { isLoopbackHost } from './loopback.js';
import { SCOPE_TOKEN } from './oauth/scope-policy.js';
import { DEFAULT_KEY_PREFIX } from './tokens/keys.js';
import { ResourceDirectory } from './tokens/record-codec.js';
import { DEFAULT_REDIS_TIMEOUTS, type HostPort, type RedisAuth, type RedisTimeouts, type RedisTopology } from './tokens/redis-client.js';

/**
 * Environment variables (over an optional configuration file, src/config-file.ts) -> one typed,
 * validated Config. The environment variables are the external contract (docs/configuration.md is
 * rendered from EnvSchema by src/config-reference.ts).
 *
 * Defaults live in one place: EnvSchema below holds every fixed default; the few that depend on
 * other settings are listed in DERIVED_DEFAULTS beside it (and rendered into the reference) and
 * computed in the step named there. Domain modules own their vocabulary (claim profiles, algorithm
 * lists, Redis topologies, client credentials); this module imports it and nothing imports upward.
 */

/** The variable naming a configuration file (`--config` wins over it). */
export const CONFIG_FILE_VARIABLE = 'ASSETGATE_CONFIG';

const intSetting = (min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

/** An issuer identifier or key URL: https, plain http only for loopback (see issuerUrlProblem). */
export const issuerUrl = z.string().superRefine((value, ctx) => {
  const problem = issuerUrlProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * NODE_ENV's values. Only these: a deployment that wrote `prod` or `Production` must not get a
 * development server (the development issuer lets anyone mint tokens).
 */
const MODES = ['development', 'production', 'test'] as const;
export type Mode = (typeof MODES)[number];

const onOff = z.enum(['on', 'off'], { error: 'must be on or off' });

export const EnvSchema = z.object({
  NODE_ENV: z.enum(MODES, { error: 'must be production, development or test (unset: development)' }).default('development'),
  PORT: intSetting(0, 65535).default(3000),
  HOST: z.string().min(1).optional(),
  DEV_ISSUER: onOff.optional(),
  ACTIVITY_PAGE: onOff.optional(),
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
  RESOURCE_SERVERS: z.string().optional(),
  DEFAULT_RESOURCES: z.string().optional(),
  INGEST_STREAM_KEY: z.string().min(1).default('ingest'),
  INGEST_MAX_BYTES: intSetting(1, 64 * 1024 * 1024).default(1024 * 1024),
  INGEST_PARTITIONS: intSetting(1, MAX_INGEST_PARTITIONS).default(DEFAULT_INGEST_PARTITIONS),
  INGEST_BACKLOG_LIMIT: intSetting(1, 1_000_000_000).default(100_000),
  INGEST_BACKLOG_MAX_BYTES: intSetting(1024, 1024 ** 4).default(16 * 1024 * 1024),
  INGEST_DEVICE_MAX_EVENTS: intSetting(0, 1_000_000_000).default(600),
  INGEST_DEVICE_MAX_BYTES: intSetting(0, 1024 ** 4).default(4 * 1024 * 1024),
  INGEST_DEVICE_WINDOW_SECONDS: intSetting(1, 86400).default(60),
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
  METRICS_TOKEN: z.string().min(MIN_SECRET_LENGTH, { error: `must be at least ${MIN_SECRET_LENGTH} characters` }).optional(),
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

/** The settings as EnvSchema reads them: every fixed default filled in. */
export type Settings = z.infer<typeof EnvSchema>;
export type SettingName = keyof Settings;

/** Defaults that depend on other settings: what the reference shows; each is computed by the step named. */
export const DERIVED_DEFAULTS: Partial<Record<SettingName, string>> = {
  HOST: '`0.0.0.0` in production, else `127.0.0.1` (loopback)', // listenHost
  DEV_ISSUER: '`on` when nothing is configured outside production (no issuers, no Redis, HOST loopback), else `off`', // developmentTools
  ACTIVITY_PAGE: 'the value of DEV_ISSUER', // developmentTools
  PUBLIC_URL: '`http://localhost:{PORT}`', // publicEndpoints
  TOKEN_AUDIENCES: 'PUBLIC_URL and its token endpoint', // publicEndpoints
  WORKERS: 'one per core in production, else 1', // workerCount
  DEFAULT_RESOURCES: 'PUBLIC_URL alone', // resourceSettings
};

export interface Config {
  mode: Mode;
  port: number;
  host: string;
  publicUrl: string;
  tokenEndpoint: string;
  /** How to reach Redis: one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS; undefined = memory store. */
  redis: RedisTopology | undefined;
  /** Processes sharing the port (WORKERS); default one per core in production, else 1. */
  workers: number;
  /** In-process cache of access-token lookups at the resource routes; ttlMs 0 = off (the default). */
  resourceCache: { ttlMs: number; maxEntries: number };
  redisKeyPrefix: string;
  audiences: string[];
  algorithms: string[];
  clockSkewSeconds: number;
  accessTokenTtlSeconds: number;
  /** Assertions whose exp lies further ahead are refused (RFC 8725 §3.10 spirit: bounded trust). */
  maxAssertionLifetimeSeconds: number;
  assertionMaxBytes: number;
  jwks: { cooldownSeconds: number; maxAgeSeconds: number; timeoutMs: number; maxBytes: number };
  /**
   * Where sessions may be valid (RFC 8707): the built-in resource (this server's routes, identifier
   * PUBLIC_URL, scopes SUPPORTED_SCOPES), the configured resource servers, and the identifiers a
   * request without `resource` / `audience` gets.
   */
  resources: { builtin: ResourceServer; servers: ResourceServer[]; defaults: string[] };
  /** /ingestapi: body limit, partitions of the stream, backlog and per-device limits. */
  ingest: IngestSettings;
  formMaxBytes: number;
  realm: string;
  logLevel: string;
  shutdownGraceMs: number;
  /** Resource servers allowed to call /oauth2/introspect and /oauth2/revoke (RFC 7662 §2.1, RFC 7009 §2.1). */
  introspectionClients: ClientCredential[];
  /** Bearer key of the administrative API; undefined: the admin endpoints are not mounted. */
  adminApiKey: string | undefined;
  /** Proof of possession (RFC 9449 DPoP); see src/dpop/policy.ts for what each policy means. */
  dpop: DpopSettings;
  /** The trusted issuers with their settings (defaults filled from the global ones); empty with devIssuer. */
  issuers: IssuerConfig[];
  /** Trust the embedded development issuer (DEV_ISSUER); only in an unmistakable development setup. */
  devIssuer: boolean;
  /** Serve the development activity page (ACTIVITY_PAGE): device ids without authentication, never in production. */
  activityPage: boolean;
  /** Not refusals: variables that look like misspelt settings. Logged at start, shown by `config check`. */
  warnings: string[];
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

/** What a configuration file adds under the environment (see config-file.ts); already validated. */
export interface ConfigLayer {
  /** The file's path, named in every error about a value from it. */
  source: string;
  /** Environment-variable-named settings; the environment wins. */
  settings: Record<string, string>;
  issuers: Array<Partial<Omit<IssuerConfig, 'issuer'>> & { issuer: string }>;
  introspectionClients: ClientCredential[];
  resourceServers: Array<Partial<Omit<ResourceServer, 'resource'>> & { resource: string }>;
  /** Environment variables the file names as holders of secrets (client_secret_env). */
  secretVariables?: string[];
}

/**
 * A configuration that cannot run. `problems` holds every problem found, one line each, each naming
 * the variable (or the file and the path inside it) and what was expected, never a secret's value.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: string[];
  constructor(problems: string | string[]) {
    const lines = typeof problems === 'string' ? [problems] : problems;
    super(lines.join('\n'));
    this.problems = lines;
  }
}

type Env = NodeJS.ProcessEnv | Record<string, string | undefined>;

/**
 * Collects every problem of a configuration so one run reports them all. A value the schema refused
 * reads as unset afterwards; later steps tripping over that absence add nothing.
 */
class Problems {
  private readonly lines: string[] = [];
  private readonly refused = new Set<string>();

  constructor(private readonly where: (setting: string) => string) {}

  /** The setting's value itself is wrong (schema stage). */
  refuse(setting: string, message: string): void {
    this.refused.add(setting);
    this.lines.push(`${this.where(setting)}: ${message}`);
  }

  /** A problem of `setting`, found from its value and those of `dependsOn`: silent when one of them was refused. */
  add(setting: string, message: string, dependsOn: readonly string[] = []): void {
    const line = `${this.where(setting)}: ${message}`;
    if ([setting, ...dependsOn].some((name) => this.refused.has(name)) || this.lines.includes(line)) return;
    this.lines.push(line);
  }

  get all(): string[] {
    return [...this.lines];
  }

  throwIfAny(): void {
    if (this.lines.length > 0) throw new ConfigError(this.lines);
  }
}

const list = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/** The raw settings: the file's `settings` under the environment (empty values count as unset). */
function rawSettings(env: Env, layer: ConfigLayer | undefined): { raw: Record<string, string>; fromEnv: Set<string> } {
  const fromEnv = Object.entries(env).filter(([k, v]) => k in EnvSchema.shape && v !== undefined && v !== '') as Array<[string, string]>;
  return { raw: { ...(layer?.settings ?? {}), ...Object.fromEntries(fromEnv) }, fromEnv: new Set(fromEnv.map(([k]) => k)) };
}

/** Variables this program reads besides the settings: never taken for misspellings. */
const OTHER_VARIABLES = new Set([CONFIG_FILE_VARIABLE, 'ASSETGATE_URL', 'ASSETGATE_CLIENT_ID', 'ASSETGATE_CLIENT_SECRET']);

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The setting `name` looks like a misspelling of, if any: the same letters in another case, or
 * within one edit (two for names of 10 characters and more, where two slips are common and another
 * real variable that close is not).
 */
export function lookalikeSetting(name: string): SettingName | undefined {
  if (name in EnvSchema.shape || OTHER_VARIABLES.has(name)) return undefined;
  const upper = name.toUpperCase();
  let best: { setting: SettingName; distance: number } | undefined;
  for (const setting of Object.keys(EnvSchema.shape) as SettingName[]) {
    if (Math.abs(setting.length - upper.length) > 2) continue;
    const distance = editDistance(upper, setting);
    const allowed = setting.length >= 10 ? 2 : 1;
    if (distance <= allowed && (!best || distance < best.distance)) best = { setting, distance };
  }
  return best?.setting;
}

/**
 * A misspelt variable is otherwise ignored without a word (`METRIC_TOKEN` leaves /metrics open):
 * name each one that looks like a setting. The value is never shown.
 */
function misspeltVariables(env: Env, layer: ConfigLayer | undefined): string[] {
  const referenced = new Set(layer?.secretVariables ?? []);
  const warnings: string[] = [];
  for (const name of Object.keys(env)) {
    if (referenced.has(name)) continue;
    const setting = lookalikeSetting(name);
    if (setting) warnings.push(`${name}: not a setting; did you mean ${setting}? (ignored)`);
  }
  return warnings;
}

/** Names a setting where it came from: the variable, or the file and its path. */
const settingSource =
  (layer: ConfigLayer | undefined, fromEnv: ReadonlySet<string>) =>
  (name: string): string =>
    layer && !fromEnv.has(name) && name in layer.settings ? `${layer.source}: settings.${name}` : name;

/** Each setting checked on its own, so every bad one is reported; a refused value reads as unset. */
function readSettings(raw: Record<string, string>, problems: Problems): Settings {
  const shape: Record<string, z.ZodType> = EnvSchema.shape;
  const accepted: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(shape)) {
    if (raw[name] === undefined) continue;
    const result = schema.safeParse(raw[name]);
    if (result.success) accepted[name] = raw[name];
    else problems.refuse(name, result.error.issues[0]!.message);
  }
  return EnvSchema.parse(accepted);
}

/** The environment's own bad values: reported beside a configuration file's problems. */
export function environmentProblems(env: Env): string[] {
  const problems = new Problems((name) => name);
  readSettings(rawSettings(env, undefined).raw, problems);
  return problems.all;
}

/** Development listens on loopback only, unless HOST says otherwise; production on every interface. */
function listenHost(s: Settings, mode: Mode): string {
  return s.HOST ?? (mode === 'production' ? '0.0.0.0' : '127.0.0.1');
}

/** PUBLIC_URL (default `http://localhost:{PORT}`), the token endpoint and the accepted audiences. */
function publicEndpoints(s: Settings): { publicUrl: string; tokenEndpoint: string; audiences: string[] } {
  const publicUrl = (s.PUBLIC_URL ?? `http://localhost:${s.PORT}`).replace(/\/+$/, '');
  const tokenEndpoint = `${publicUrl}/oauth2/token`;
  const configured = list(s.TOKEN_AUDIENCES);
  return { publicUrl, tokenEndpoint, audiences: configured.length > 0 ? configured : [publicUrl, tokenEndpoint] };
}

/** TRUSTED_ISSUERS (env, else the file's settings) chooses the issuers; without it, the file's list. */
function trustedIssuerNames(s: Settings, layer: ConfigLayer | undefined, problems: Problems): string[] {
  const names =
    s.TRUSTED_ISSUERS !== undefined || !layer?.issuers.length
      ? list(s.TRUSTED_ISSUERS).map((iss) => iss.replace(/\/+$/, ''))
      : layer.issuers.map((i) => i.issuer);
  for (const iss of names) {
    const problem = issuerUrlProblem(iss);
    if (problem) problems.add('TRUSTED_ISSUERS', problem);
  }
  return names;
}

function hostPorts(variable: string, value: string, problems: Problems): HostPort[] {
  const nodes: HostPort[] = [];
  for (const item of list(value)) {
    const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(item);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) problems.add(variable, `"${item}" is not host:port`);
    else nodes.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
  }
  if (nodes.length === 0) problems.add(variable, 'must list at least one host:port');
  return nodes;
}

const REDIS_CHOICES = ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const;

/** How to reach Redis: exactly one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS, or none (memory store). */
function redisTopology(s: Settings, problems: Problems): RedisTopology | undefined {
  const chosen = REDIS_CHOICES.filter((name) => s[name]);
  if (chosen.length > 1) problems.add(chosen[1]!, `set only one of ${chosen.join(', ')}`);
  const auth: RedisAuth = { tls: s.REDIS_TLS === 'true' || s.REDIS_TLS === '1' };
  if (s.REDIS_USERNAME) auth.username = s.REDIS_USERNAME;
  if (s.REDIS_PASSWORD) auth.password = s.REDIS_PASSWORD;
  const timeouts: RedisTimeouts = { commandMs: s.REDIS_COMMAND_TIMEOUT_MS, connectMs: s.REDIS_CONNECT_TIMEOUT_MS };
  if (s.REDIS_URL) {
    if (s.REDIS_URL.startsWith('rediss://')) auth.tls = true;
    return { kind: 'standalone', url: s.REDIS_URL, auth, timeouts };
  }
  if (s.REDIS_CLUSTER_NODES) return { kind: 'cluster', nodes: hostPorts('REDIS_CLUSTER_NODES', s.REDIS_CLUSTER_NODES, problems), auth, timeouts };
  if (s.REDIS_SENTINELS) {
    if (!s.REDIS_SENTINEL_NAME) problems.add('REDIS_SENTINEL_NAME', 'required with REDIS_SENTINELS (the monitored master name)');
    const topology: RedisTopology = {
      kind: 'sentinel',
      sentinels: hostPorts('REDIS_SENTINELS', s.REDIS_SENTINELS, problems),
      name: s.REDIS_SENTINEL_NAME ?? '',
      auth,
      timeouts,
    };
    if (s.REDIS_SENTINEL_PASSWORD) topology.sentinelPassword = s.REDIS_SENTINEL_PASSWORD;
    return topology;
  }
  return undefined;
}

/** What production demands: real issuers, a shared store, and the external URL the audiences derive from. */
function checkProduction(s: Settings, mode: Mode, issuers: string[], redis: RedisTopology | undefined, problems: Problems): void {
  if (mode !== 'production') return;
  if (issuers.length === 0) problems.add('TRUSTED_ISSUERS', 'required in production (the development issuer is never used there)');
  if (s.PUBLIC_URL === undefined) {
    problems.add('PUBLIC_URL', 'required in production: it is the issuer identifier and the default audience (else http://localhost would be accepted)');
  }
  if (!redis) problems.add('REDIS_URL', 'required in production, or REDIS_CLUSTER_NODES / REDIS_SENTINELS (the in-memory store is for development only)', REDIS_CHOICES);
}

/**
 * The development issuer and the activity page exist only in an unmistakable development setup:
 * nothing configured (no issuers, no Redis, a loopback HOST, not production), or asked for by name
 * (DEV_ISSUER=on, ACTIVITY_PAGE=on). Whatever points at a deployment (a shared store other services
 * read, an address beyond loopback) without that request is refused: the development issuer signs
 * anything for anyone, and on a shared Redis its sessions are accepted by every guard there.
 */
function developmentTools(
  s: Settings,
  mode: Mode,
  context: { issuers: string[]; redis: RedisTopology | undefined; host: string },
  problems: Problems,
): { devIssuer: boolean; activityPage: boolean } {
  const askByName = 'set DEV_ISSUER=on to ask for the development issuer by name';
  let devIssuer = false;
  if (s.DEV_ISSUER === 'on') {
    if (mode === 'production') problems.add('DEV_ISSUER', 'must not be on in production');
    else if (context.issuers.length > 0) problems.add('DEV_ISSUER', 'on replaces the trusted issuers: unset TRUSTED_ISSUERS (and the file\'s issuers) or DEV_ISSUER');
    else devIssuer = true;
  } else if (context.issuers.length === 0 && mode !== 'production') {
    if (s.DEV_ISSUER === 'off') {
      problems.add('TRUSTED_ISSUERS', 'required with DEV_ISSUER=off');
    } else if (context.redis) {
      problems.add(
        'TRUSTED_ISSUERS',
        `required with a shared store (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS): every service on it would accept the development issuer's tokens; ${askByName}`,
        [...REDIS_CHOICES],
      );
    } else if (!isLoopbackHost(context.host)) {
      problems.add('TRUSTED_ISSUERS', `required when listening beyond loopback (HOST=${context.host}): anyone reaching it could mint tokens; ${askByName}`, ['HOST']);
    } else {
      devIssuer = true;
    }
  }
  let activityPage = devIssuer;
  if (s.ACTIVITY_PAGE === 'off') activityPage = false;
  if (s.ACTIVITY_PAGE === 'on') {
    if (mode === 'production') problems.add('ACTIVITY_PAGE', 'must not be on in production (it shows device ids without authentication)');
    else activityPage = true;
  }
  return { devIssuer, activityPage };
}

/** WORKERS, default one per core in production, else 1. */
function workerCount(s: Settings, mode: Mode, shared: boolean, problems: Problems): number {
  const workers = s.WORKERS ?? (mode === 'production' ? availableParallelism() : 1);
  // The memory store and the development issuer's key live in one process: one worker only.
  if (workers > 1 && !shared) {
    problems.add('WORKERS', 'more than one worker needs Redis and TRUSTED_ISSUERS (memory store and development issuer are per process)', [...REDIS_CHOICES, 'TRUSTED_ISSUERS']);
  }
  return workers;
}

/** A comma-separated algorithm list, each one from `allowed`. */
function algorithmList(setting: SettingName, value: string, allowed: readonly string[], problems: Problems): string[] {
  const algorithms = list(value);
  for (const alg of algorithms) {
    if (!allowed.includes(alg)) problems.add(setting, `"${alg}" is not an asymmetric JWS algorithm this server accepts`);
  }
  if (algorithms.length === 0) problems.add(setting, 'must name at least one algorithm');
  return algorithms;
}

/** The scopes the built-in resource accepts; none unless configured (scopes come from policy, not from the device). */
function supportedScopes(s: Settings, problems: Problems): string[] {
  const scopes = (s.SUPPORTED_SCOPES ?? '').split(/[\s,]+/).filter(Boolean);
  for (const scope of scopes) {
    if (!SCOPE_TOKEN.test(scope)) problems.add('SUPPORTED_SCOPES', `"${scope}" is not a valid scope token`);
  }
  return scopes;
}

/**
 * RESOURCE_SERVERS (env, else the file's settings) chooses the resource servers, without it the
 * file's list; the file's entries add their settings. DEFAULT_RESOURCES defaults to the built-in
 * resource alone: a session whose request named no resource works only at this server's own routes
 * (RFC 9700 §2.3), so a device that has not learnt to ask gets nothing another service accepts.
 */
function resourceSettings(s: Settings, layer: ConfigLayer | undefined, publicUrl: string, scopes: string[], problems: Problems): Config['resources'] {
  const fromFile = new Map((layer?.resourceServers ?? []).map((r) => [r.resource, r]));
  const identifiers = s.RESOURCE_SERVERS !== undefined || fromFile.size === 0 ? list(s.RESOURCE_SERVERS) : [...fromFile.keys()];
  for (const id of identifiers) {
    const problem = resourceIdentifierProblem(id);
    if (problem) problems.add('RESOURCE_SERVERS', problem);
  }
  const builtin: ResourceServer = { resource: publicUrl, name: undefined, scopes, maxTokenLifetimeSeconds: undefined };
  const servers: ResourceServer[] = identifiers.map((resource) => {
    const own = fromFile.get(resource);
    return { resource, name: own?.name, scopes: own?.scopes ?? [], maxTokenLifetimeSeconds: own?.maxTokenLifetimeSeconds };
  });
  const defaults = s.DEFAULT_RESOURCES === undefined ? [publicUrl] : list(s.DEFAULT_RESOURCES);
  try {
    // What ResourceCatalog and the record codec will rely on: unique identifiers, names and short ids, known defaults.
    new ResourceDirectory(publicUrl, identifiers);
    new ResourceCatalog(builtin, servers, defaults);
  } catch (err) {
    problems.add(s.DEFAULT_RESOURCES === undefined ? 'RESOURCE_SERVERS' : 'DEFAULT_RESOURCES', (err as Error).message, ['RESOURCE_SERVERS', 'PUBLIC_URL']);
  }
  return { builtin, servers, defaults };
}

/** An introspection client bound to a resource must name one sessions are issued for. */
function checkClientResources(clients: ClientCredential[], resources: Config['resources'], layer: ConfigLayer | undefined, problems: Problems): void {
  const known = new Set([resources.builtin, ...resources.servers].map((r) => r.resource));
  for (const c of clients) {
    if (c.resource !== undefined && !known.has(c.resource)) {
      problems.add('RESOURCE_SERVERS', `${layer?.source ?? 'configuration'}: introspection client "${c.id}" is bound to "${c.resource}", which is neither PUBLIC_URL nor a resource server`);
    }
  }
}

function dpopSettings(s: Settings, problems: Problems): DpopSettings {
  return {
    proofOfPossession: s.PROOF_OF_POSSESSION,
    algorithms: algorithmList('DPOP_ALGORITHMS', s.DPOP_ALGORITHMS, DPOP_ALLOWED_ALGORITHMS, problems),
    iatWindowSeconds: s.DPOP_IAT_WINDOW_SECONDS,
    nonce: s.DPOP_NONCE_SECRET === undefined ? undefined : { secret: s.DPOP_NONCE_SECRET, lifetimeSeconds: s.DPOP_NONCE_LIFETIME_SECONDS },
  };
}

// RFC 6749 Appendix A.1 / A.2: client_id and client_secret are VSCHAR; ':' and ',' separate entries here.
const CLIENT_ID = /^[\x21-\x2B\x2D-\x39\x3B-\x7E]{1,128}$/;
const CLIENT_SECRET = new RegExp(`^[\\x21-\\x2B\\x2D-\\x7E]{${MIN_SECRET_LENGTH},256}$`);
// RFC 6750 §2.1 b64token, so the key can travel in `Authorization: Bearer`.
const ADMIN_KEY = new RegExp(`^[A-Za-z0-9\\-._~+/]{${MIN_SECRET_LENGTH},512}=*$`);

export interface IngestSettings {
  streamKey: string;
  maxBytes: number;
  partitions: number;
  limits: IngestLimits;
}

/** The ingest budgets must each hold the largest event, or such an event would be refused for ever. */
function ingestSettings(s: Settings, problems: Problems): IngestSettings {
  if (s.INGEST_BACKLOG_MAX_BYTES < s.INGEST_MAX_BYTES) problems.add('INGEST_BACKLOG_MAX_BYTES', `must be at least INGEST_MAX_BYTES (${s.INGEST_MAX_BYTES})`);
  if (s.INGEST_DEVICE_MAX_BYTES > 0 && s.INGEST_DEVICE_MAX_BYTES < s.INGEST_MAX_BYTES) {
    problems.add('INGEST_DEVICE_MAX_BYTES', `must be 0 (off) or at least INGEST_MAX_BYTES (${s.INGEST_MAX_BYTES})`);
  }
  return {
    streamKey: s.INGEST_STREAM_KEY,
    maxBytes: s.INGEST_MAX_BYTES,
    partitions: s.INGEST_PARTITIONS,
    limits: {
      backlogEntries: s.INGEST_BACKLOG_LIMIT,
      backlogBytes: s.INGEST_BACKLOG_MAX_BYTES,
      deviceEvents: s.INGEST_DEVICE_MAX_EVENTS,
      deviceBytes: s.INGEST_DEVICE_MAX_BYTES,
      deviceWindowMs: s.INGEST_DEVICE_WINDOW_SECONDS * 1000,
    },
  };
}

function adminApiKey(s: Settings, problems: Problems): string | undefined {
  if (s.ADMIN_API_KEY !== undefined && !ADMIN_KEY.test(s.ADMIN_API_KEY)) {
    problems.add('ADMIN_API_KEY', `must be at least ${MIN_SECRET_LENGTH} characters of token68 (letters, digits, -._~+/)`);
  }
  return s.ADMIN_API_KEY;
}

/**
 * INTROSPECTION_CLIENTS: `id:secret,id2:secret2`. Error messages name the entry by position, and by
 * id only when a ":" set one apart: an entry without one may be the secret alone.
 */
export function parseClientCredentials(value: string | undefined): ClientCredential[] {
  const problems = new Problems(() => 'INTROSPECTION_CLIENTS');
  const clients = clientCredentials(value, problems);
  problems.throwIfAny();
  return clients;
}

function clientCredentials(value: string | undefined, problems: Problems): ClientCredential[] {
  const clients: ClientCredential[] = [];
  list(value).forEach((entry, index) => {
    const colon = entry.indexOf(':');
    const id = entry.slice(0, Math.max(colon, 0));
    const secret = entry.slice(colon + 1);
    const where = `entry ${index + 1}`;
    if (colon < 0) {
      problems.add('INTROSPECTION_CLIENTS', `${where}: expected "id:secret"`);
    } else if (!CLIENT_ID.test(id)) {
      problems.add('INTROSPECTION_CLIENTS', `${where}: client id must be 1-128 printable characters without ":" or ","`);
    } else if (!CLIENT_SECRET.test(secret)) {
      problems.add('INTROSPECTION_CLIENTS', `${where} ("${id}"): secret must follow "id:" and be ${MIN_SECRET_LENGTH}-256 printable characters without ","`);
    } else if (clients.some((c) => c.id === id)) {
      problems.add('INTROSPECTION_CLIENTS', `client id "${id}" appears twice`);
    } else {
      clients.push({ id, secret });
    }
  });
  return clients;
}

/** A client defined in the environment and in the file gets the environment's secret: the environment wins. */
function withEnvironmentFirst(fromEnv: ClientCredential[], fromFile: ClientCredential[]): ClientCredential[] {
  const ids = new Set(fromEnv.map((c) => c.id));
  return [...fromEnv, ...fromFile.filter((c) => !ids.has(c.id))];
}

/** Each trusted issuer with its file settings, defaults taken from the global settings. */
function issuerSettings(names: string[], layer: ConfigLayer | undefined, algorithms: string[], audiences: string[]): IssuerConfig[] {
  const fileIssuers = new Map((layer?.issuers ?? []).map((i) => [i.issuer.replace(/\/+$/, ''), i]));
  return names.map((issuer) => {
    const own = fileIssuers.get(issuer);
    return {
      issuer,
      jwksUrl: own?.jwksUrl ?? jwksUrlOf(issuer),
      algorithms: own?.algorithms ?? algorithms,
      audiences: own?.audiences ?? audiences,
      profile: own?.profile ?? DEFAULT_CLAIM_PROFILE,
      proofOfPossession: own?.proofOfPossession,
      allowedAssetIds: own?.allowedAssetIds,
      scopes: own?.scopes,
      assetScopes: own?.assetScopes,
    };
  });
}

/**
 * Env (over an optional file layer) -> one validated Config; throws ConfigError listing every
 * problem, each naming the variable (or the file and the path inside it) and what was expected.
 */
export function loadConfig(env: Env, layer?: ConfigLayer): Config {
  const { raw, fromEnv } = rawSettings(env, layer);
  const warnings = misspeltVariables(env, layer);
  const problems = new Problems(settingSource(layer, fromEnv));
  const s = readSettings(raw, problems);

  const mode = s.NODE_ENV;
  const host = listenHost(s, mode);
  const { publicUrl, tokenEndpoint, audiences } = publicEndpoints(s);
  const issuerNames = trustedIssuerNames(s, layer, problems);
  const redis = redisTopology(s, problems);
  checkProduction(s, mode, issuerNames, redis, problems);
  const { devIssuer, activityPage } = developmentTools(s, mode, { issuers: issuerNames, redis, host }, problems);
  const workers = workerCount(s, mode, redis !== undefined && !devIssuer, problems);
  const algorithms = algorithmList('ASSERTION_ALGORITHMS', s.ASSERTION_ALGORITHMS, ASSERTION_ALGORITHMS, problems);
  const resources = resourceSettings(s, layer, publicUrl, supportedScopes(s, problems), problems);
  const dpop = dpopSettings(s, problems);
  const introspectionClients = withEnvironmentFirst(clientCredentials(s.INTROSPECTION_CLIENTS, problems), layer?.introspectionClients ?? []);
  checkClientResources(introspectionClients, resources, layer, problems);
  const adminKey = adminApiKey(s, problems);
  const ingest = ingestSettings(s, problems);
  problems.throwIfAny();

  return {
    mode,
    port: s.PORT,
    host,
    publicUrl,
    tokenEndpoint,
    redis,
    workers,
    resourceCache: { ttlMs: s.RESOURCE_CACHE_TTL_MS, maxEntries: s.RESOURCE_CACHE_MAX_ENTRIES },
    redisKeyPrefix: s.REDIS_KEY_PREFIX,
    audiences,
    algorithms,
    clockSkewSeconds: s.CLOCK_SKEW_SECONDS,
    accessTokenTtlSeconds: s.ACCESS_TOKEN_TTL_SECONDS,
    maxAssertionLifetimeSeconds: s.MAX_ASSERTION_LIFETIME_SECONDS,
    assertionMaxBytes: s.ASSERTION_MAX_BYTES,
    jwks: {
      cooldownSeconds: s.JWKS_COOLDOWN_SECONDS,
      maxAgeSeconds: s.JWKS_MAX_AGE_SECONDS,
      timeoutMs: s.JWKS_TIMEOUT_MS,
      maxBytes: s.JWKS_MAX_BYTES,
    },
    resources,
    ingest,
    formMaxBytes: s.FORM_MAX_BYTES,
    realm: s.REALM,
    logLevel: s.LOG_LEVEL,
    shutdownGraceMs: s.SHUTDOWN_GRACE_MS,
    introspectionClients,
    adminApiKey: adminKey,
    dpop,
    issuers: issuerSettings(issuerNames, layer, algorithms, audiences),
    devIssuer,
    activityPage,
    warnings,
    metricsToken: s.METRICS_TOKEN,
    configFile: layer?.source,
    failureLimits: {
      perClient: s.RATE_LIMIT_FAILED_PER_IP,
      perDevice: s.RATE_LIMIT_FAILED_PER_DEVICE,
      windowSeconds: s.RATE_LIMIT_WINDOW_SECONDS,
    },
    http: {
      requestTimeoutMs: s.HTTP_REQUEST_TIMEOUT_MS,
      // Node refuses a headers timeout above the request timeout.
      headersTimeoutMs: Math.min(s.HTTP_HEADERS_TIMEOUT_MS, s.HTTP_REQUEST_TIMEOUT_MS),
      keepAliveTimeoutMs: s.HTTP_KEEPALIVE_TIMEOUT_MS,
      maxHeaderBytes: s.HTTP_MAX_HEADER_BYTES,
    },
    trustedProxyHops: s.TRUSTED_PROXY_HOPS,
  };
}

/** What the keyspace tools (`migrate`, `revoke-device`) need: where Redis is and how its keys are named. */
export interface StoreConfig {
  mode: Mode;
  redis: RedisTopology | undefined;
  redisKeyPrefix: string;
  ingest: { streamKey: string; partitions: number };
  accessTokenTtlSeconds: number;
  /** The issuers this configuration names (TRUSTED_ISSUERS or the file), if any: revoke-device names devices by them. */
  issuers: Array<{ issuer: string }>;
  warnings: string[];
}

const STORE_SETTINGS: ReadonlySet<string> = new Set<SettingName>([
  'NODE_ENV',
  ...REDIS_CHOICES,
  'REDIS_SENTINEL_NAME',
  'REDIS_USERNAME',
  'REDIS_PASSWORD',
  'REDIS_SENTINEL_PASSWORD',
  'REDIS_TLS',
  'REDIS_COMMAND_TIMEOUT_MS',
  'REDIS_CONNECT_TIMEOUT_MS',
  'REDIS_KEY_PREFIX',
  'INGEST_STREAM_KEY',
  'INGEST_PARTITIONS',
  'ACCESS_TOKEN_TTL_SECONDS',
  'TRUSTED_ISSUERS',
]);

/**
 * Only the keyspace settings, checked as loadConfig checks them: a migration or a revocation from an
 * operator's shell needs Redis, not the issuers or the public URL of the servers using the keyspace.
 */
export function loadStoreConfig(env: Env, layer?: ConfigLayer): StoreConfig {
  const { raw, fromEnv } = rawSettings(env, layer);
  const problems = new Problems(settingSource(layer, fromEnv));
  const s = readSettings(Object.fromEntries(Object.entries(raw).filter(([name]) => STORE_SETTINGS.has(name))), problems);
  const redis = redisTopology(s, problems);
  const issuers = trustedIssuerNames(s, layer, problems).map((issuer) => ({ issuer }));
  if (s.NODE_ENV === 'production' && !redis) problems.add('REDIS_URL', 'required in production, or REDIS_CLUSTER_NODES / REDIS_SENTINELS', REDIS_CHOICES);
  problems.throwIfAny();
  return {
    mode: s.NODE_ENV,
    redis,
    redisKeyPrefix: s.REDIS_KEY_PREFIX,
    ingest: { streamKey: s.INGEST_STREAM_KEY, partitions: s.INGEST_PARTITIONS },
    accessTokenTtlSeconds: s.ACCESS_TOKEN_TTL_SECONDS,
    issuers,
    warnings: misspeltVariables(env, layer),
  };
}
