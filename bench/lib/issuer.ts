import { createHash, generateKeyPairSync } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { MintJob } from './mint-worker.js';

/**
 * The benchmark's asset-token issuer: a key pair cached on disk (so cached tokens stay valid across
 * runs), a local HTTP server publishing its JWKS at /id/keys on a loopback port kept between runs
 * (the port is part of `iss`), and a pool of pre-minted tokens cached per issuer key + audience.
 */
export interface IssuerIdentity {
  kid: string;
  privatePem: string;
  publicJwk: Record<string, string>;
  deviceJwk: Record<string, string>;
  port: number;
}

/** Tokens live this long; within the server's MAX_ASSERTION_LIFETIME_SECONDS (30 days by default). */
const TOKEN_LIFETIME_SECONDS = 29 * 86400;
/** A cached pool is re-minted once its tokens have less than this left. */
const MIN_REMAINING_SECONDS = 2 * 86400;

export function loadIdentity(cacheDir: string, pickPort: () => number): IssuerIdentity {
  mkdirSync(cacheDir, { recursive: true });
  const file = join(cacheDir, 'issuer.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as IssuerIdentity;
  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const device = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `bench-${Date.now().toString(36)}`;
  const identity: IssuerIdentity = {
    kid,
    privatePem: signing.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicJwk: { ...(signing.publicKey.export({ format: 'jwk' }) as Record<string, string>), kid, alg: 'RS256', use: 'sig' },
    deviceJwk: { ...(device.publicKey.export({ format: 'jwk' }) as Record<string, string>), kid: 'devicekey' },
    port: pickPort(),
  };
  writeFileSync(file, JSON.stringify(identity));
  return identity;
}

export function saveIdentity(cacheDir: string, identity: IssuerIdentity): void {
  writeFileSync(join(cacheDir, 'issuer.json'), JSON.stringify(identity));
}

export const issuerUrl = (identity: IssuerIdentity): string => `http://127.0.0.1:${identity.port}`;

/** Serves the JWKS; resolves false when the remembered port is taken. */
export function serveJwks(identity: IssuerIdentity): Promise<Server | false> {
  const body = JSON.stringify({ keys: [identity.publicJwk] });
  const server = createServer((req, res) => {
    if (req.url === '/id/keys') res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    else res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(false) : reject(err)));
    server.listen(identity.port, '127.0.0.1', () => resolve(server));
  });
}

/** Non-empty lines of a file that may be larger than V8's longest string. */
function readLines(file: string): string[] {
  const buf = readFileSync(file);
  const lines: string[] = [];
  let start = 0;
  for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
    if (nl > start) lines.push(buf.toString('utf8', start, nl));
    start = nl + 1;
  }
  if (start < buf.length) lines.push(buf.toString('utf8', start));
  return lines;
}

interface PoolMeta {
  exp: number;
  count: number;
}

/** Distinct asset tokens for this issuer and audience: read from the cache, minted (in worker threads) when short. */
export async function tokenPool(
  cacheDir: string,
  identity: IssuerIdentity,
  audience: string,
  count: number,
  progress: (done: number, total: number) => void,
): Promise<string[]> {
  const iss = issuerUrl(identity);
  const id = createHash('sha256').update(`${identity.kid}\n${iss}\n${audience}`).digest('hex').slice(0, 16);
  const metaFile = join(cacheDir, `tokens-${id}.json`);
  const tokensFile = join(cacheDir, `tokens-${id}.txt`);
  const now = Math.floor(Date.now() / 1000);
  const tokens: string[] = [];
  let exp = now + TOKEN_LIFETIME_SECONDS;
  if (existsSync(metaFile) && existsSync(tokensFile)) {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as PoolMeta;
    if (meta.exp - now > MIN_REMAINING_SECONDS) {
      const cached = readLines(tokensFile);
      if (cached.length >= count) return cached.slice(0, count);
      for (const t of cached) tokens.push(t); // still valid: mint only the missing ones (no spread: 10^5 arguments overflow the stack)
      exp = meta.exp;
    }
  }
  const workers = Math.max(1, Math.min(cpus().length, 4));
  const chunk = 2000;
  let next = tokens.length;
  const runOne = async (): Promise<void> => {
    while (next < count) {
      const first = next;
      const n = Math.min(chunk, count - first);
      next += n;
      const job: MintJob = {
        privatePem: identity.privatePem,
        kid: identity.kid,
        iss,
        aud: audience,
        first,
        count: n,
        devices: 10_000,
        nbf: now - 60,
        exp,
        deviceJwk: identity.deviceJwk,
      };
      const minted = await new Promise<string[]>((resolve, reject) => {
        const worker = new Worker(new URL('./mint-worker.js', import.meta.url), { workerData: job });
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      tokens.push(...minted);
      progress(Math.min(tokens.length, count), count);
    }
  };
  await Promise.all(Array.from({ length: workers }, runOne));
  // In slices: 10^5 tokens of ~1.2 KB each exceed V8's longest string.
  writeFileSync(tokensFile, '');
  for (let i = 0; i < tokens.length; i += 50_000) appendFileSync(tokensFile, `${tokens.slice(i, i + 50_000).join('\n')}\n`);
  writeFileSync(metaFile, JSON.stringify({ exp, count: tokens.length } satisfies PoolMeta));
  return tokens;
}

/**
 * The run's issuer: the cached identity served on its remembered port, or on a new free port when
 * that one is taken (the port is part of `iss`, so cached tokens of the old port are re-minted).
 */
export async function startIssuer(cacheDir: string, freePort: () => Promise<number>): Promise<{ identity: IssuerIdentity; server: Server; url: string }> {
  let identity = loadIdentity(cacheDir, () => 0);
  let server = identity.port ? await serveJwks(identity) : false;
  if (!server) {
    identity = { ...identity, port: await freePort() };
    saveIdentity(cacheDir, identity);
    server = await serveJwks(identity);
    if (!server) throw new Error('cannot serve the issuer JWKS');
  }
  return { identity, server, url: issuerUrl(identity) };
}
