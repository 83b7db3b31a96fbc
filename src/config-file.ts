import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { CLAIM_PROFILES } from './assertion/claims-policy.js';
import { ASSERTION_ALGORITHMS } from './assertion/issuers.js';
import {
  CONFIG_FILE_VARIABLE,
  ConfigError,
  EnvSchema,
  environmentProblems,
  issuerUrl,
  loadConfig,
  loadStoreConfig,
  lookalikeSetting,
  type Config,
  type ConfigLayer,
  type StoreConfig,
} from './config.js';
import { PROOF_OF_POSSESSION_POLICIES } from './dpop/policy.js';
import { resourceIdentifierProblem } from './oauth/resources.js';
import { SCOPE_TOKEN } from './oauth/scope-policy.js';
import { MIN_SECRET_LENGTH } from './oauth/client-auth.js';

/**
 * The configuration file (JSON or YAML) holds what environment variables express badly: per-issuer
 * settings and introspection clients. Any environment variable may also be set under `settings`;
 * the environment wins over the file.
 */

const algorithm = z.enum(ASSERTION_ALGORITHMS);
const nonEmpty = z.string().min(1, { error: 'expected a non-empty string' });
const scopeToken = z.string().regex(SCOPE_TOKEN, { error: 'expected a scope token (RFC 6749 §3.3)' });

export const IssuerEntrySchema = z
  .object({
    issuer: issuerUrl.describe('Issuer identifier, compared exactly with the token\'s `iss` (https; http only for loopback).'),
    jwks_url: issuerUrl
      .optional()
      .describe('Where the issuer\'s keys are published. Default: `{issuer}/id/keys` (Salesforce).'),
    algorithms: z
      .array(algorithm)
      .min(1, { error: 'expected at least one algorithm' })
      .optional()
      .describe('JWS algorithms accepted from this issuer. Default: ASSERTION_ALGORITHMS.'),
    audiences: z
      .array(nonEmpty)
      .min(1, { error: 'expected at least one audience' })
      .optional()
      .describe('Audiences a token from this issuer may name. Default: TOKEN_AUDIENCES.'),
    profile: z
      .enum(CLAIM_PROFILES)
      .optional()
      .describe('Claims profile: `salesforce-asset-token` takes `did` as the subject (else `sub`); `generic-jwt` requires `sub`. Default: salesforce-asset-token.'),
    proof_of_possession: z
      .enum(PROOF_OF_POSSESSION_POLICIES)
      .optional()
      .describe('Proof-of-possession policy (RFC 9449 DPoP / RFC 7800 cnf): off, optional or required. Default: PROOF_OF_POSSESSION (the global policy).'),
    allowed_asset_ids: z
      .array(nonEmpty)
      .min(1, { error: 'expected at least one asset id' })
      .optional()
      .describe('When set, only tokens whose `aid` is listed are accepted.'),
    scopes: z
      .array(scopeToken)
      .optional()
      .describe('Scopes devices of this issuer may be granted, within what the session\'s resources accept. Default: no issuer-level restriction.'),
    asset_scopes: z
      .record(nonEmpty, z.array(scopeToken))
      .optional()
      .describe('Per asset id (`aid`): the scopes that asset may be granted, instead of `scopes`.'),
  })
  .strict();

export const ResourceServerEntrySchema = z
  .object({
    resource: z
      .string()
      .superRefine((value, ctx) => {
        const problem = resourceIdentifierProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .describe('Resource identifier (RFC 8707): an absolute URI without a fragment, https (http only for loopback).'),
    name: nonEmpty.optional().describe('Logical name a token-exchange request may give as `audience` (RFC 8693 §2.1).'),
    scopes: z.array(scopeToken).optional().describe('Scopes this resource accepts: the most a session for it may carry. Default: none.'),
    max_token_lifetime_seconds: z
      .number()
      .int()
      .min(1)
      .max(86400)
      .optional()
      .describe('Cap on `expires_in` of a session valid at this resource. Default: ACCESS_TOKEN_TTL_SECONDS.'),
  })
  .strict();

export const IntrospectionClientSchema = z
  .object({
    client_id: nonEmpty.describe('Client id sent with HTTP Basic authentication (RFC 6749 §2.3.1).'),
    client_secret: z
      .string()
      .min(MIN_SECRET_LENGTH, { error: `expected at least ${MIN_SECRET_LENGTH} characters` })
      .optional()
      .describe('The secret itself (prefer client_secret_env).'),
    client_secret_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' })
      .optional()
      .describe('Name of the environment variable holding the secret.'),
    resource: nonEmpty
      .optional()
      .describe('The resource this client is (PUBLIC_URL or a resource server): introspection answers `active: false` for a session not meant for it (RFC 7662 §2.2).'),
  })
  .strict()
  .refine((c) => (c.client_secret === undefined) !== (c.client_secret_env === undefined), {
    error: 'expected exactly one of client_secret and client_secret_env',
  });

const settingValue = z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, number or boolean' });

export const ConfigFileSchema = z
  .object({
    settings: z
      .record(z.string(), settingValue)
      .optional()
      .describe('Any environment variable of the table above, by its name; the environment wins.'),
    issuers: z.array(IssuerEntrySchema).optional().describe('Trusted issuers and their settings.'),
    introspection_clients: z.array(IntrospectionClientSchema).optional().describe('Callers of POST /oauth2/introspect (RFC 7662).'),
    resource_servers: z
      .array(ResourceServerEntrySchema)
      .optional()
      .describe('Resource servers sessions may be issued for (RFC 8707) and their settings; RESOURCE_SERVERS, when set, chooses which.'),
  })
  .strict();

export type ConfigFile = z.infer<typeof ConfigFileSchema>;

/** `issuers[0].algorithms[1]` */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out ? '.' : ''}${String(part)}`;
  return out || '(top level)';
}

function parseText(path: string, text: string): unknown {
  if (extname(path).toLowerCase() === '.json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      // V8's message may quote the text around the fault, which may be a secret: say where, not what.
      throw new ConfigError(`${path}: not valid JSON${jsonFaultAt(text, (err as Error).message)}`);
    }
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const at = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}: ` : '';
        return `${path}: not valid YAML: ${at}${e.message.split('\n')[0]!.split(' at line ')[0]}`;
      }),
    );
  }
  return doc.toJS() as unknown;
}

/** `: line L, column C` of a JSON syntax error, taken from the parser's position, never its quote of the text. */
function jsonFaultAt(text: string, message: string): string {
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return `: line ${lineColumn[1]}, column ${lineColumn[2]}`;
  const position = /at position (\d+)/.exec(message);
  if (!position) return '';
  const lines = text.slice(0, Number(position[1])).split('\n');
  return `: line ${lines.length}, column ${lines.at(-1)!.length + 1}`;
}

/** Reads and validates a configuration file into a layer under the environment; every problem at once. */
export function readConfigFile(path: string, env: NodeJS.ProcessEnv | Record<string, string | undefined> = {}): ConfigLayer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const raw = parseText(path, text) ?? {};
  const parsed = ConfigFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${path}: ${formatPath(issue.path)}: ${issue.message}`));
  }
  const file = parsed.data;
  const problems: string[] = [];
  const settings: Record<string, string> = {};
  for (const [name, value] of Object.entries(file.settings ?? {})) {
    if (!(name in EnvSchema.shape)) {
      const lookalike = lookalikeSetting(name);
      problems.push(`${path}: settings.${name}: unknown setting (${lookalike ? `did you mean ${lookalike}?` : 'expected an environment variable name from docs/configuration.md'})`);
    } else {
      settings[name] = String(value);
    }
  }
  const introspectionClients: ConfigLayer['introspectionClients'] = [];
  (file.introspection_clients ?? []).forEach((c, i) => {
    const secret = c.client_secret ?? env[c.client_secret_env!];
    const at = `${path}: introspection_clients[${i}].client_secret_env`;
    if (!secret) problems.push(`${at}: environment variable ${c.client_secret_env} is not set`);
    // The same floor as a secret written in the file: where it comes from changes nothing for a guesser.
    else if (secret.length < MIN_SECRET_LENGTH) problems.push(`${at}: ${c.client_secret_env} must hold at least ${MIN_SECRET_LENGTH} characters`);
    else introspectionClients.push({ id: c.client_id, secret, ...(c.resource !== undefined ? { resource: c.resource } : {}) });
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    source: path,
    settings,
    introspectionClients,
    secretVariables: (file.introspection_clients ?? []).flatMap((c) => (c.client_secret_env === undefined ? [] : [c.client_secret_env])),
    issuers: (file.issuers ?? []).map((i) => ({
      issuer: i.issuer.replace(/\/+$/, ''),
      ...(i.jwks_url !== undefined ? { jwksUrl: i.jwks_url } : {}),
      ...(i.algorithms !== undefined ? { algorithms: i.algorithms } : {}),
      ...(i.audiences !== undefined ? { audiences: i.audiences } : {}),
      ...(i.profile !== undefined ? { profile: i.profile } : {}),
      ...(i.proof_of_possession !== undefined ? { proofOfPossession: i.proof_of_possession } : {}),
      ...(i.allowed_asset_ids !== undefined ? { allowedAssetIds: i.allowed_asset_ids } : {}),
      ...(i.scopes !== undefined ? { scopes: i.scopes } : {}),
      ...(i.asset_scopes !== undefined ? { assetScopes: i.asset_scopes } : {}),
    })),
    resourceServers: (file.resource_servers ?? []).map((r) => ({
      resource: r.resource,
      ...(r.name !== undefined ? { name: r.name } : {}),
      ...(r.scopes !== undefined ? { scopes: r.scopes } : {}),
      ...(r.max_token_lifetime_seconds !== undefined ? { maxTokenLifetimeSeconds: r.max_token_lifetime_seconds } : {}),
    })),
  };
}

/** The file named by `--config` (configFile) or ASSETGATE_CONFIG, if any. */
function fileLayer(env: NodeJS.ProcessEnv | Record<string, string | undefined>, options: { configFile?: string | undefined }): ConfigLayer | undefined {
  const path = options.configFile ?? (env[CONFIG_FILE_VARIABLE] || undefined);
  try {
    return path ? readConfigFile(path, env) : undefined;
  } catch (err) {
    // The environment's own bad values are reported with the file's, not on the next attempt.
    if (err instanceof ConfigError) throw new ConfigError([...err.problems, ...environmentProblems(env)]);
    throw err;
  }
}

/** The process's configuration: the configuration file, if any, under the environment. */
export function loadEffectiveConfig(
  env: NodeJS.ProcessEnv | Record<string, string | undefined>,
  options: { configFile?: string | undefined } = {},
): Config {
  return loadConfig(env, fileLayer(env, options));
}

/** The Redis settings only (for `migrate`), from the same sources. */
export function loadEffectiveStoreConfig(
  env: NodeJS.ProcessEnv | Record<string, string | undefined>,
  options: { configFile?: string | undefined } = {},
): StoreConfig {
  return loadStoreConfig(env, fileLayer(env, options));
}

const SECRET_MASK = '********';

/** The effective configuration for display: secrets masked, credentials stripped from URLs. */
export function maskedConfig(config: Config): Record<string, unknown> {
  const maskUrl = (url: string | undefined) => {
    if (!url) return url;
    try {
      const u = new URL(url);
      if (u.password) u.password = SECRET_MASK;
      return u.toString();
    } catch {
      return SECRET_MASK;
    }
  };
  const mask = (secret: string | undefined) => (secret === undefined ? undefined : SECRET_MASK);
  let redis = config.redis;
  if (redis) {
    const auth = { ...redis.auth, ...(redis.auth.password === undefined ? {} : { password: SECRET_MASK }) };
    if (redis.kind === 'standalone') redis = { ...redis, url: maskUrl(redis.url) ?? '', auth };
    else if (redis.kind === 'sentinel') redis = { ...redis, auth, ...(redis.sentinelPassword === undefined ? {} : { sentinelPassword: SECRET_MASK }) };
    else redis = { ...redis, auth };
  }
  return {
    ...config,
    redis,
    adminApiKey: mask(config.adminApiKey),
    dpop: { ...config.dpop, nonce: config.dpop.nonce && { ...config.dpop.nonce, secret: SECRET_MASK } },
    metricsToken: config.metricsToken ? SECRET_MASK : undefined,
    introspectionClients: config.introspectionClients.map((c) => ({ id: c.id, secret: SECRET_MASK })),
  };
}
