/**
 * The peer: panva's oidc-provider (certified OAuth server on Koa) doing the same job. A jwt-bearer
 * (RFC 7523) and a token-exchange (RFC 8693) grant registered with registerGrantType verify the asset
 * token with jose against the issuer's JWKS exactly as the project does (iss, aud, exp, RS256), use
 * oidc-provider's own ReplayDetection for single use, and issue its opaque AccessToken; a minimal
 * Redis adapter stores everything; introspection on, unrelated features off. /resource and /ingestapi
 * are the resource server a team would write next to it: AccessToken.find (+ XADD).
 */
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { Redis } from 'ioredis';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import Koa, { type Context } from 'koa';
import Provider, { errors, type Adapter, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';

const env = process.env;
const issuer = env.ISSUER!;
const audience = env.AUDIENCE!;
const maxLen = env.INGEST_STREAM_MAXLEN ?? '10000';
const [rsId, rsSecret] = (env.INTROSPECTION_CLIENT ?? 'bench-rs:bench-secret-0123456789').split(':') as [string, string];
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

const redis = new Redis(env.REDIS_URL!, { enableOfflineQueue: true, maxRetriesPerRequest: 1 });

/** The least adapter oidc-provider needs here: one JSON value per model id, expiring with it. */
class RedisAdapter implements Adapter {
  constructor(private readonly model: string) {}
  private key(id: string): string {
    return `peer:${this.model}:${id}`;
  }
  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    if (expiresIn) await redis.set(this.key(id), JSON.stringify(payload), 'EX', expiresIn);
    else await redis.set(this.key(id), JSON.stringify(payload));
  }
  async find(id: string): Promise<AdapterPayload | undefined> {
    const value = await redis.get(this.key(id));
    return value ? (JSON.parse(value) as AdapterPayload) : undefined;
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
  async findByUid(): Promise<undefined> {
    return undefined;
  }
  async consume(id: string): Promise<void> {
    const payload = await this.find(id);
    if (payload) await redis.set(this.key(id), JSON.stringify({ ...payload, consumed: Math.floor(Date.now() / 1000) }), 'KEEPTTL');
  }
  async destroy(id: string): Promise<void> {
    await redis.del(this.key(id));
  }
  async revokeByGrantId(): Promise<void> {}
}

const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const provider = new Provider(env.PEER_ISSUER ?? 'https://assetgate.bench', {
  adapter: RedisAdapter,
  clients: [
    { client_id: 'bench-device', token_endpoint_auth_method: 'none', grant_types: [JWT_BEARER, TOKEN_EXCHANGE], response_types: [], redirect_uris: [] },
    { client_id: rsId, client_secret: rsSecret, token_endpoint_auth_method: 'client_secret_basic', grant_types: [], response_types: [], redirect_uris: [] },
  ],
  jwks: { keys: [{ ...signing, kid: 'peer', alg: 'RS256', use: 'sig' }] },
  routes: { token: '/oauth2/token', introspection: '/oauth2/introspect' },
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    revocation: { enabled: false },
    rpInitiatedLogout: { enabled: false },
    userinfo: { enabled: false },
  },
  clockTolerance: 30,
  ttl: { AccessToken: 3600 },
});
provider.proxy = false;

const jwks = createRemoteJWKSet(new URL(`${issuer}/id/keys`));

/** Same verification as the project's: RS256 only, iss exact, aud, exp/nbf with skew; then single use. */
async function verifyAndConsume(token: string): Promise<JWTPayload | null> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, jwks, { issuer, audience, algorithms: ['RS256'], clockTolerance: 30, requiredClaims: ['exp'] }));
  } catch {
    return null;
  }
  const id = typeof payload.id === 'string' ? payload.id : payload.jti;
  if (typeof id !== 'string' || typeof payload.did !== 'string') return null;
  const replay = provider.ReplayDetection as unknown as { unique(iss: string, jti: string, exp: number): Promise<boolean> };
  return (await replay.unique(issuer, id, payload.exp! + 30)) ? payload : null;
}

function assertionGrant(param: 'assertion' | 'subject_token') {
  return async function assertionGrantHandler(ctx: KoaContextWithOIDC): Promise<void> {
    const params = ctx.oidc.params as Record<string, string | undefined>;
    const claims = await verifyAndConsume(params[param] ?? '');
    if (!claims) throw new errors.InvalidGrant('assertion is invalid or was already used');
    const token = new provider.AccessToken({
      client: ctx.oidc.client!,
      accountId: claims.did as string,
      scope: params.scope ?? '',
      gty: param === 'assertion' ? 'jwt_bearer' : 'token_exchange',
      extra: { did: claims.did, aid: claims.aid },
    } as unknown as ConstructorParameters<typeof provider.AccessToken>[0]);
    const value = await token.save();
    ctx.body = { access_token: value, token_type: 'Bearer', expires_in: token.expiration, scope: token.scope || undefined };
  };
}
provider.registerGrantType(JWT_BEARER, assertionGrant('assertion'), ['assertion', 'scope']);
provider.registerGrantType(TOKEN_EXCHANGE, assertionGrant('subject_token'), ['subject_token', 'subject_token_type', 'scope']);

const bearer = (ctx: Context): string | undefined => /^Bearer (\S+)$/.exec(ctx.get('authorization'))?.[1];

async function principal(token: string | undefined): Promise<{ sub: string; aid?: unknown } | null> {
  if (!token) return null;
  if (token.split('.').length === 3) {
    const claims = await verifyAndConsume(token);
    return claims ? { sub: claims.did as string, aid: claims.aid } : null;
  }
  const at = await provider.AccessToken.find(token);
  if (!at || !at.isValid) return null;
  return { sub: at.accountId, aid: at.extra?.aid };
}

function readBody(ctx: Context): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    ctx.req.on('data', (c: Buffer) => chunks.push(c));
    ctx.req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    ctx.req.on('error', reject);
  });
}

const resourceServer = new Koa();
resourceServer.use(async (ctx) => {
  const who = await principal(bearer(ctx));
  if (!who) {
    ctx.status = 401;
    ctx.body = { error: 'invalid_token' };
    return;
  }
  if (ctx.path === '/resource') {
    ctx.body = who;
    return;
  }
  const body = await readBody(ctx);
  try {
    JSON.parse(body);
  } catch {
    ctx.status = 400;
    ctx.body = { error: 'invalid_request' };
    return;
  }
  ctx.status = 202;
  ctx.body = { id: await redis.xadd('peer:ingest', 'MAXLEN', '~', maxLen, '*', 'sub', who.sub, 'body', body) };
});

const providerCallback = provider.callback();
const resourceCallback = resourceServer.callback();
createServer((req, res) => {
  const path = req.url ?? '';
  if ((req.method === 'GET' && path === '/resource') || (req.method === 'POST' && path === '/ingestapi')) return resourceCallback(req, res);
  if (path === '/healthz') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  return providerCallback(req, res);
}).listen(Number(env.PORT), '127.0.0.1');

// SIGTERM: exit normally, so a --cpu-prof profile (BENCH_PROFILE_DIR) is written.
process.on('SIGTERM', () => process.exit(0));
