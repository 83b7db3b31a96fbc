import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { isProcessEntry } from './cli/is-entry.js';
import { ConfigFileSchema, IntrospectionClientSchema, IssuerEntrySchema } from './config-file.js';
import { DERIVED_DEFAULTS, EnvSchema, type SettingName } from './config.js';

/**
 * Renders docs/configuration.md from the zod schemas (`npm run docs:config`); a test fails when the
 * committed file differs from what this renders, so the reference never drifts from the code.
 */

export const REFERENCE_PATH = 'docs/configuration.md';

/** What each environment variable means; names, types, bounds and defaults come from EnvSchema. */
export const ENV_DESCRIPTIONS: Record<string, string> = {
  NODE_ENV: '`production` refuses the development issuer, the activity page and the in-memory store, and requires TRUSTED_ISSUERS, Redis and PUBLIC_URL; `development` and `test` run as development. Any other value (`prod`, `Production`) is refused.',
  PORT: 'TCP port to listen on.',
  HOST: 'Address to bind.',
  DEV_ISSUER: '`on` trusts the embedded development issuer (`POST /dev-issuer/asset-tokens` mints any token for anyone), also over Redis or beyond loopback; never in production, never beside TRUSTED_ISSUERS. Without it, Redis or a non-loopback HOST with no issuers is refused.',
  ACTIVITY_PAGE: '`on` serves the development activity page (`/`, `/dev/activity`: device ids without authentication) whatever the other settings; never in production.',
  PUBLIC_URL: 'The server\'s external base URL (this server\'s issuer identifier). Default audiences derive from it. Required in production.',
  REDIS_URL: 'Redis for tokens, single-use marks and the ingest partitions. Unset: the in-memory development store (refused in production).',
  REDIS_CLUSTER_NODES: 'Redis Cluster seeds `host:port,host:port` (instead of REDIS_URL). Every multi-key operation stays in one hash slot.',
  REDIS_SENTINELS: 'Sentinel addresses `host:port,...` (instead of REDIS_URL); needs REDIS_SENTINEL_NAME.',
  REDIS_SENTINEL_NAME: 'Name of the master the sentinels monitor.',
  REDIS_USERNAME: 'ACL user for the Redis data nodes (any topology).',
  REDIS_PASSWORD: 'Password for the Redis data nodes (any topology). Masked by `config check`.',
  REDIS_SENTINEL_PASSWORD: 'Password of the sentinels themselves. Masked by `config check`.',
  REDIS_TLS: '`true`: TLS to the Redis data nodes and sentinels (implied by a `rediss://` URL).',
  REDIS_COMMAND_TIMEOUT_MS: 'How long one Redis command may take before the request fails with a retryable 503 (any topology).',
  REDIS_CONNECT_TIMEOUT_MS: 'How long connecting to a Redis node may take before the attempt is retried in the background.',
  WORKERS: 'Processes sharing the port (node:cluster). More than one needs Redis and TRUSTED_ISSUERS.',
  RESOURCE_CACHE_TTL_MS: 'In-process cache of access-token lookups at /resource and /ingestapi, ms; 0 (default) = off. Revocations reach every instance through Redis pub/sub at once; a lost message is covered by this bound (staleness at most this long).',
  RESOURCE_CACHE_MAX_ENTRIES: 'Most access tokens the resource cache holds per process (least recently used go first).',
  REDIS_KEY_PREFIX: 'Prefix of every Redis key.',
  TRUSTED_ISSUERS: 'Comma-separated issuer URLs. Overrides the file\'s `issuers` list (their per-issuer settings still apply). None: the embedded development issuer (refused in production).',
  TOKEN_AUDIENCES: 'Comma-separated audiences an asset token must name (any one).',
  ASSERTION_ALGORITHMS: 'Comma-separated asymmetric JWS algorithms accepted (RFC 8725 §3.1).',
  CLOCK_SKEW_SECONDS: 'Tolerance for exp, nbf and iat.',
  ACCESS_TOKEN_TTL_SECONDS: 'Access token lifetime (never beyond the asset token\'s exp).',
  MAX_ASSERTION_LIFETIME_SECONDS: 'Asset tokens whose exp lies further ahead are refused.',
  ASSERTION_MAX_BYTES: 'Largest asset token accepted.',
  JWKS_COOLDOWN_SECONDS: 'Least gap between JWKS refetches caused by unknown kids.',
  JWKS_MAX_AGE_SECONDS: 'Age after which cached keys are refreshed in the background.',
  JWKS_TIMEOUT_MS: 'JWKS fetch timeout.',
  JWKS_MAX_BYTES: 'Largest JWKS document accepted.',
  SUPPORTED_SCOPES: 'Space- or comma-separated scopes the built-in resource (PUBLIC_URL: /resource, /ingestapi) accepts, the most a session for it may carry. Unset: none.',
  RESOURCE_SERVERS: 'Comma-separated resource identifiers (RFC 8707: absolute URIs, https except loopback, no fragment) sessions may be issued for, besides PUBLIC_URL. Unset: the file\'s `resource_servers`.',
  DEFAULT_RESOURCES: 'Comma-separated resources a session is valid at when the token request names none (`resource` / `audience`): each must be PUBLIC_URL or a resource server. The default keeps a session that asked for nothing to this server\'s own routes (RFC 9700 §2.3).',
  INGEST_STREAM_KEY: 'Base name (under the prefix) of the /ingestapi streams: `<prefix><name>:{<partition tag>}`.',
  INGEST_MAX_BYTES: 'Largest /ingestapi body.',
  INGEST_PARTITIONS: 'Ingest streams, each with its own Cluster hash tag (spread evenly over the slots, so over the masters); a device always writes to the same one. Fixed when `assetgate migrate` sets up the keyspace: the server refuses to start with another value.',
  INGEST_BACKLOG_LIMIT: 'Unacknowledged entries per partition; at the limit /ingestapi answers 503 `temporarily_unavailable` with Retry-After (an asset token of that call is not consumed).',
  INGEST_BACKLOG_MAX_BYTES: 'Payload bytes retained per partition (the same 503 over it). Partitions x this x 1.35 (the stream\'s own overhead, measured) must fit well below Redis maxmemory beside the tokens (docs/deployment.md).',
  INGEST_DEVICE_MAX_EVENTS: 'Events one device (issuer + subject) may send per window; over it: 429 with Retry-After. 0: no limit.',
  INGEST_DEVICE_MAX_BYTES: 'Payload bytes one device may send per window; over it: 429 with Retry-After. 0: no limit.',
  INGEST_DEVICE_WINDOW_SECONDS: 'The window of both per-device ingest limits.',
  FORM_MAX_BYTES: 'Largest token endpoint form body.',
  REALM: 'RFC 6750 realm in WWW-Authenticate challenges.',
  LOG_LEVEL: 'pino log level.',
  SHUTDOWN_GRACE_MS: 'Time in-flight requests get after SIGTERM.',
  INTROSPECTION_CLIENTS: 'Resource servers allowed to call /oauth2/introspect and /oauth2/revoke: `id:secret,id2:secret2` (secrets 16..256 characters). Adds to the file\'s `introspection_clients`.',
  ADMIN_API_KEY: 'Bearer key of the admin API (`POST /admin/devices/{did}/revoke`), at least 16 characters; unset: the admin API is not mounted.',
  PROOF_OF_POSSESSION: 'Global DPoP (RFC 9449) policy: `off` ignores DPoP headers, `optional` binds sessions when a valid proof is sent, `required` demands a proof from the asset token\'s `cnf` key. A file issuer\'s `proof_of_possession` overrides it.',
  DPOP_ALGORITHMS: 'Asymmetric JWS algorithms accepted for DPoP proofs.',
  DPOP_IAT_WINDOW_SECONDS: 'How old a DPoP proof\'s `iat` may be (plus CLOCK_SKEW_SECONDS); its `jti` is remembered that long.',
  DPOP_NONCE_SECRET: 'Set (32+ characters, the same on every instance): stateless server nonces are demanded (RFC 9449 §8). Masked by `config check`.',
  DPOP_NONCE_LIFETIME_SECONDS: 'How long one server nonce stays valid.',
  RATE_LIMIT_FAILED_PER_IP: 'Refusals of what nothing vouches for (asset tokens or DPoP proofs that do not verify, malformed token requests, failed client authentication at introspection and revocation) allowed per client IP per window; over it: 429 with Retry-After. Genuine tokens refused as expired, used or revoked, and use_dpop_nonce, never count (SECURITY.md). 0: no limit. The IP is the socket address (no proxy headers are trusted).',
  RATE_LIMIT_FAILED_PER_DEVICE: 'Refusals only the device key can cause (a genuine asset token refused although the request carried a fresh DPoP proof from its cnf key) allowed per device per window; over it the device gets 429. 0: no limit.',
  RATE_LIMIT_WINDOW_SECONDS: 'The window of both failure limits.',
  HTTP_REQUEST_TIMEOUT_MS: 'Whole-request timeout (slow bodies get a 408).',
  HTTP_HEADERS_TIMEOUT_MS: 'Time allowed to receive the headers (capped at the request timeout).',
  HTTP_KEEPALIVE_TIMEOUT_MS: 'Idle keep-alive connection timeout.',
  HTTP_MAX_HEADER_BYTES: 'Largest request head (431 above).',
  TRUSTED_PROXY_HOPS: 'Reverse proxies in front of assetgate that append to X-Forwarded-For. 0: the client address is the socket peer and the header is ignored; N: the Nth address from the right (what the failure limits count per client).',
  METRICS_TOKEN: 'When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; in production /metrics is served only when it is set. Secret: masked by `assetgate config check`.',
};

type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  minItems?: number;
  pattern?: string;
  format?: string;
  description?: string;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
};

const toJson = (schema: z.ZodType): JsonSchema => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function describeType(s: JsonSchema): string {
  if (s.enum) return `one of ${s.enum.map((v) => `\`${String(v)}\``).join(', ')}`;
  if (s.anyOf) return s.anyOf.map(describeType).join(' or ');
  if (s.type === 'array' && s.items) return `list of ${describeType(s.items)}${s.minItems ? ` (at least ${s.minItems})` : ''}`;
  if (s.type === 'integer') return `integer ${s.minimum ?? ''}..${s.maximum ?? ''}`;
  if (s.type === 'object') return 'object';
  let text = String(s.type ?? 'value');
  if (s.format === 'uri') text = 'URL';
  if (s.minLength && s.minLength > 1) text += ` of at least ${s.minLength} characters`;
  if (s.pattern) text += `, matching \`${s.pattern}\``;
  return text;
}

const defaultOf = (s: JsonSchema): string => (s.default === undefined ? '' : `\`${String(s.default)}\``);

function propertyTable(schema: JsonSchema, heading: string[], row: (name: string, p: JsonSchema, required: boolean) => string[]): string {
  const lines = [`| ${heading.join(' | ')} |`, `| ${heading.map(() => '---').join(' | ')} |`];
  for (const [name, p] of Object.entries(schema.properties ?? {})) lines.push(`| ${row(name, p, (schema.required ?? []).includes(name)).map(cell).join(' | ')} |`);
  return lines.join('\n');
}

const EXAMPLE = `settings:
  NODE_ENV: production
  REDIS_URL: redis://127.0.0.1:6379
  ACCESS_TOKEN_TTL_SECONDS: 900
issuers:
  - issuer: https://acme.my.site.com
    audiences: [https://devices.example.com/oauth2/token]
    allowed_asset_ids: [02iAAA000001, 02iAAA000002]
  - issuer: https://login.example.net
    jwks_url: https://login.example.net/.well-known/jwks.json
    profile: generic-jwt
    algorithms: [ES256]
    proof_of_possession: optional
introspection_clients:
  - client_id: gateway
    client_secret_env: GATEWAY_INTROSPECTION_SECRET`;

export function renderConfigReference(): string {
  const env = toJson(EnvSchema);
  const envTable = propertyTable(env, ['Variable', 'Type', 'Default', 'Meaning'], (name, p) => [
    `\`${name}\``,
    describeType(p),
    DERIVED_DEFAULTS[name as SettingName] ?? defaultOf(p),
    ENV_DESCRIPTIONS[name] ?? '',
  ]);
  const fileRow = (name: string, p: JsonSchema, required: boolean) => [`\`${name}\``, describeType(p), required ? 'yes' : '', p.description ?? ''];
  const fileHeading = ['Key', 'Type', 'Required', 'Meaning'];
  return `<!-- Generated by \`npm run docs:config\` from src/config.ts and src/config-file.ts. Do not edit by hand. -->
# Configuration reference

assetgate reads environment variables and, optionally, a configuration file (JSON, or YAML for any
other extension) named by \`--config\` or \`ASSETGATE_CONFIG\`. The environment wins over the file.
Every problem of a configuration is reported at once, one line each, naming the variable (or the file
and the path inside it) and what was expected, never a secret's value; nothing starts on a bad
configuration (exit code 2). A variable that looks like a misspelt setting (\`METRIC_TOKEN\`,
\`REDIS_ULR\`) is named in a warning at start and by \`assetgate config check\`, which prints the
effective configuration with secrets masked. \`assetgate migrate\` reads only the Redis settings.

## Development and production

Development is what runs when nothing is configured: the embedded development issuer, the activity
page and the in-memory store, listening on loopback (\`127.0.0.1\`). As soon as something points at a
deployment (Redis, which other services share, or a HOST beyond loopback) without trusted issuers, the
server refuses to start unless the development issuer is asked for by name (\`DEV_ISSUER=on\`). With
trusted issuers the activity page is off unless \`ACTIVITY_PAGE=on\`. \`NODE_ENV=production\` refuses
both and requires \`TRUSTED_ISSUERS\`, Redis and \`PUBLIC_URL\`; a \`NODE_ENV\` other than
\`production\`, \`development\` or \`test\` is refused.

## Environment variables

Every variable may also be set in the file under \`settings\`.

${envTable}

## Configuration file

${propertyTable(toJson(ConfigFileSchema), fileHeading, fileRow)}

### \`issuers[]\`

Without \`TRUSTED_ISSUERS\`, the issuers listed here are the trusted issuers. With it, the
variable chooses the issuers and an entry here only adds settings to the issuer of the same name.
Unset values fall back to the global settings.

${propertyTable(toJson(IssuerEntrySchema), fileHeading, fileRow)}

### \`introspection_clients[]\`

Exactly one of \`client_secret\` and \`client_secret_env\`; either way the secret has at least 16 characters.
A client also named in \`INTROSPECTION_CLIENTS\` takes the variable's secret (the environment wins).

${propertyTable(toJson(IntrospectionClientSchema), fileHeading, fileRow)}

### Example

\`\`\`yaml
${EXAMPLE}
\`\`\`
`;
}

// `npm run docs:config`
if (isProcessEntry(import.meta.url)) {
  writeFileSync(REFERENCE_PATH, renderConfigReference());
  process.stdout.write(`wrote ${REFERENCE_PATH}\n`);
}
