/**
 * The floor: the least a server can do for the same job, to measure the project against.
 * koa + jose (jwtVerify against the issuer's JWKS) + ioredis; exchange = verify, one SET NX for the
 * single-use id and one SET for the token; resource check and introspection = sha256 + one GET.
 * No logging, no request ids, no security headers, no error taxonomy beyond what clients need.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Redis } from 'ioredis';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import Koa, { type Context } from 'koa';

const env = process.env;
const issuer = env.ISSUER!;
const audience = env.AUDIENCE!;
const prefix = env.PREFIX ?? 'floor:';
const maxLen = env.INGEST_STREAM_MAXLEN ?? '10000';
const [clientId, clientSecret] = (env.INTROSPECTION_CLIENT ?? 'bench-rs:bench-secret-0123456789').split(':') as [string, string];
const expectedBasic = Buffer.from(`Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`);

const redis = new Redis(env.REDIS_URL!, { enableOfflineQueue: true, maxRetriesPerRequest: 1 });
const jwks = createRemoteJWKSet(new URL(`${issuer}/id/keys`));
const sha = (v: string): string => createHash('sha256').update(v).digest('base64url');

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function fail(ctx: Context, status: number, error: string): void {
  ctx.status = status;
  ctx.body = { error };
}

async function verifyAndConsume(token: string): Promise<JWTPayload | null> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, jwks, { issuer, audience, algorithms: ['RS256'], clockTolerance: 30 }));
  } catch {
    return null;
  }
  const id = typeof payload.id === 'string' ? payload.id : payload.jti;
  if (typeof id !== 'string' || typeof payload.exp !== 'number') return null;
  const ttl = Math.max(1000, (payload.exp + 30) * 1000 - Date.now());
  const fresh = await redis.set(`${prefix}jti:${sha(`${issuer}\n${id}`)}`, '1', 'PX', ttl, 'NX');
  return fresh ? payload : null;
}

async function exchange(ctx: Context): Promise<void> {
  const form = new URLSearchParams(await readBody(ctx.req));
  const assertion = form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:token-exchange' ? form.get('subject_token') : form.get('assertion');
  if (!assertion) return fail(ctx, 400, 'invalid_request');
  const claims = await verifyAndConsume(assertion);
  if (!claims) return fail(ctx, 400, 'invalid_grant');
  const token = randomBytes(32).toString('base64url');
  const now = Date.now();
  const record = JSON.stringify({ s: claims.did ?? claims.sub, d: claims.did, a: claims.aid, i: issuer, t: now, e: now + 3_600_000 });
  await redis.set(`${prefix}at:${sha(token)}`, record, 'PX', 3_600_000);
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { access_token: token, token_type: 'Bearer', expires_in: 3600 };
}

async function lookup(token: string | null | undefined): Promise<Record<string, unknown> | null> {
  if (!token) return null;
  const value = await redis.get(`${prefix}at:${sha(token)}`);
  return value ? (JSON.parse(value) as Record<string, unknown>) : null;
}

const bearer = (ctx: Context): string | undefined => /^Bearer (\S+)$/.exec(ctx.get('authorization'))?.[1];

async function resource(ctx: Context): Promise<void> {
  const record = await lookup(bearer(ctx));
  if (!record) return fail(ctx, 401, 'invalid_token');
  ctx.body = { sub: record.s, did: record.d, aid: record.a, iss: record.i };
}

async function ingest(ctx: Context): Promise<void> {
  const token = bearer(ctx);
  if (!token) return fail(ctx, 401, 'invalid_token');
  let sub: unknown;
  if (token.split('.').length === 3) {
    const claims = await verifyAndConsume(token);
    sub = claims?.did;
  } else {
    sub = (await lookup(token))?.s;
  }
  if (typeof sub !== 'string') return fail(ctx, 401, 'invalid_token');
  const body = await readBody(ctx.req);
  try {
    JSON.parse(body);
  } catch {
    return fail(ctx, 400, 'invalid_request');
  }
  const id = await redis.xadd(`${prefix}ingest`, 'MAXLEN', '~', maxLen, '*', 'sub', sub, 'body', body);
  ctx.status = 202;
  ctx.body = { id };
}

async function introspect(ctx: Context): Promise<void> {
  const given = Buffer.from(ctx.get('authorization'));
  if (given.length !== expectedBasic.length || !timingSafeEqual(given, expectedBasic)) return fail(ctx, 401, 'invalid_client');
  const record = await lookup(new URLSearchParams(await readBody(ctx.req)).get('token'));
  ctx.set('Cache-Control', 'no-store');
  ctx.body = record ? { active: true, token_type: 'Bearer', sub: record.s, did: record.d, aid: record.a, iss: record.i, iat: Math.floor(Number(record.t) / 1000), exp: Math.floor(Number(record.e) / 1000) } : { active: false };
}

const app = new Koa();
app.use(async (ctx) => {
  const route = `${ctx.method} ${ctx.path}`;
  if (route === 'POST /oauth2/token') return exchange(ctx);
  if (route === 'GET /resource') return resource(ctx);
  if (route === 'POST /ingestapi') return ingest(ctx);
  if (route === 'POST /oauth2/introspect') return introspect(ctx);
  if (route === 'GET /healthz') {
    ctx.body = { status: 'ok' };
    return;
  }
  fail(ctx, 404, 'not_found');
});
app.listen(Number(env.PORT), '127.0.0.1');

// SIGTERM: exit normally, so a --cpu-prof profile (BENCH_PROFILE_DIR) is written.
process.on('SIGTERM', () => process.exit(0));
