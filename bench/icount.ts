/**
 * Instructions per request (`npm run bench:icount`): each target server runs under valgrind's
 * callgrind, which counts executed instructions instead of timing them, so the figure does not move
 * with whatever else the machine is doing. After a warm-up the counters are dumped, a fixed number of
 * requests is sent (a fixed number in flight), and the counters are dumped again: the second dump
 * divided by the request count is the server's instructions per request, JIT code, GC and libuv
 * included. Redis and the load generator run outside valgrind and are not counted.
 *
 * Complements `npm run bench` (req/s, latency, memory against floor and peer): use it to decide
 * whether a change of a few microseconds per request helps, which timings on a shared machine cannot.
 *
 * Settings (env): ICOUNT_TARGETS (project,floor; also: peer, and koa: koa alone, bench/floor/bare-koa.ts),
 * ICOUNT_SCENARIOS (resource,introspection,ingest,exchange; also token-exchange, bearer-ingest),
 * ICOUNT_REQUESTS (1000), ICOUNT_WARMUP (5000), ICOUNT_INFLIGHT (1),
 * ICOUNT_PROJECT_SERVER (another build's dist/src/server.js, for before/after), ICOUNT_PROJECT_ENV
 * (extra K=V,K=V for the project server), ICOUNT_KEEP=1 (keep the dumps, and name JIT code in them with
 * node's --perf-basic-prof map: see bench/icount-profile.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { migrate } from '../src/tokens/schema.js';
import { freePort, RedisServerProcess } from '../test/support/redis-server.js';
import { selfCostsOf } from './lib/callgrind.js';
import { startIssuer } from './lib/issuer.js';
import { mintTokens } from './lib/mint-worker.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
// An issuer identity of its own: the load bench's cached tokens name its issuer's port, which an
// icount run started beside it would otherwise take (and the bench would then mint them all again).
const cacheDir = join(root, 'bench', '.cache', 'icount');
const AUDIENCE = 'https://assetgate.bench/oauth2/token';
const PUBLIC_URL = 'https://assetgate.bench';
const INTROSPECTION_CLIENT = 'bench-rs:bench-secret-0123456789';
const BASIC = `Basic ${Buffer.from(INTROSPECTION_CLIENT).toString('base64')}`;
const FORM = 'application/x-www-form-urlencoded';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
/** Scenarios that spend a fresh asset token per request (capped by the tokens minted per run). */
const SPENDING = new Set(['exchange', 'token-exchange', 'bearer-ingest']);

const list = (name: string, fallback: string): string[] => (process.env[name] ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);
const int = (name: string, fallback: number): number => (process.env[name] ? Number(process.env[name]) : fallback);
const settings = {
  targets: list('ICOUNT_TARGETS', 'project,floor'),
  scenarios: list('ICOUNT_SCENARIOS', 'resource,introspection,ingest,exchange'),
  requests: int('ICOUNT_REQUESTS', 1000),
  warmup: int('ICOUNT_WARMUP', 5000),
  inflight: int('ICOUNT_INFLIGHT', 1),
};

interface Request {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

type Build = (n: number) => Request;

async function send(base: string, req: Request): Promise<number> {
  const res = await fetch(base + req.path, { method: req.method, headers: req.headers, body: req.body });
  await res.arrayBuffer();
  return res.status;
}

/** Sends `count` requests, `inflight` at a time; throws on any status but the expected one. */
async function drive(base: string, count: number, build: Build, expected: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const status = await send(base, build(next++));
      if (status !== expected) throw new Error(`answered ${status}, expected ${expected}`);
    }
  };
  await Promise.all(Array.from({ length: settings.inflight }, worker));
}

interface Valgrinded {
  url: string;
  child: ChildProcess;
  dumps: string;
  controlEnv: Record<string, string>;
}

async function startUnderCallgrind(script: string, env: Record<string, string>): Promise<Valgrinded> {
  const port = await freePort();
  const dumps = mkdtempSync(join(tmpdir(), 'icount-'));
  const stdoutFd = openSync(join(dumps, 'stdout.log'), 'w');
  const child = spawn(
    'valgrind',
    ['--tool=callgrind', '--smc-check=all-non-file', '--dump-instr=no', '--compress-strings=no', `--callgrind-out-file=${dumps}/cg.out`,
      process.execPath, '--single-threaded', ...(process.env.ICOUNT_KEEP ? ['--perf-basic-prof'] : []), script],
    // stdout (the access log) to a file, as in a deployment: /dev/null would hide the write's cost.
    { env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) },
      stdio: ['ignore', stdoutFd, 'pipe'] },
  );
  closeSync(stdoutFd);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${stderr}`);
    const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status === 200, () => false);
    // valgrind names its control files after USER and HOST (the project's listen address here):
    // callgrind_control must run with the same two.
    if (ok) return { url, child, dumps, controlEnv: { PATH: process.env.PATH ?? '', ...(env.HOST ? { HOST: env.HOST } : {}) } };
    if (Date.now() > deadline) throw new Error(`server not healthy: ${stderr}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Dumps callgrind's counters (they restart from zero) and returns the instructions since the last
 * dump. Valgrind takes the command only while the program runs, not while it waits in epoll: health
 * checks wake it until the dump file appears (one health check per dump, the same in every interval).
 */
async function dump(server: Valgrinded): Promise<{ total: number; compiling: number }> {
  const before = new Set(readdirSync(server.dumps));
  const control = spawn('callgrind_control', ['--dump', String(server.child.pid)], { stdio: 'ignore', env: server.controlEnv });
  const deadline = Date.now() + 120_000;
  let fresh: string[] = [];
  while (fresh.length === 0) {
    if (Date.now() > deadline) throw new Error('callgrind dump did not appear');
    await new Promise((r) => setTimeout(r, 200));
    fresh = readdirSync(server.dumps).filter((f) => !before.has(f));
    if (fresh.length === 0 && control.exitCode !== null) await fetch(`${server.url}/healthz`).then((r) => r.arrayBuffer(), () => undefined);
  }
  await new Promise((r) => (control.exitCode !== null ? r(undefined) : control.once('exit', r)));
  await new Promise((r) => setTimeout(r, 500)); // the file is complete once callgrind_control has its answer
  return countsOf(readFileSync(join(server.dumps, fresh[0]!), 'utf8'));
}

/** V8's optimizing compilers at work (still tiering up after the warm-up): counted apart. */
const COMPILING = /v8::internal::compiler::|v8::internal::maglev::|v8::internal::wasm::|v8::internal::Compiler::|v8::internal::Parser/;

/** The dump's total, and the part spent in functions of V8's compilers (self cost). */
function countsOf(text: string): { total: number; compiling: number } {
  const totals = /^(?:summary|totals): (\d+)/m.exec(text);
  if (!totals) throw new Error('no totals in the dump');
  let compiling = 0;
  for (const [fn, cost] of selfCostsOf(text)) if (COMPILING.test(fn)) compiling += cost;
  return { total: Number(totals[1]), compiling };
}

async function main(): Promise<void> {
  if (spawnSync('valgrind', ['--version']).status !== 0) throw new Error('valgrind is needed (apt-get install -y valgrind)');
  const { identity, server: jwks, url: issuer } = await startIssuer(cacheDir, freePort);
  const now = Math.floor(Date.now() / 1000);
  const spending = settings.scenarios.filter((s) => SPENDING.has(s)).length;
  const perTarget = 100 + spending * (Math.min(settings.warmup, 3000) + Math.min(settings.requests, 1000)) + 100;
  const assetTokens = mintTokens({
    privatePem: identity.privatePem, kid: identity.kid, iss: issuer, aud: AUDIENCE, first: now * 100_000, count: perTarget * settings.targets.length,
    devices: 1000, nbf: now - 60, exp: now + 86400, deviceJwk: identity.deviceJwk,
  });
  let taken = 0;
  const asset = (): string => assetTokens[taken++]!;

  const redisServer = await RedisServerProcess.start();
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  await migrate({ redis, keyPrefix: 'ag:', ingestStream: 'ingest' });
  const common = { REDIS_URL: redisServer.url };
  const extra = Object.fromEntries(list('ICOUNT_PROJECT_ENV', '').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const targets: Record<string, { script: string; env: Record<string, string> }> = {
    project: {
      script: process.env.ICOUNT_PROJECT_SERVER ?? join(root, 'dist/src/server.js'),
      env: { ...common, NODE_ENV: 'production', HOST: '127.0.0.1', REDIS_KEY_PREFIX: 'ag:', TRUSTED_ISSUERS: issuer, PUBLIC_URL,
        TOKEN_AUDIENCES: AUDIENCE, INTROSPECTION_CLIENTS: INTROSPECTION_CLIENT, WORKERS: '1',
        // Under valgrind everything runs about 50x slower: the default 2 s budgets would fail start-up.
        REDIS_COMMAND_TIMEOUT_MS: '30000', REDIS_CONNECT_TIMEOUT_MS: '30000', JWKS_TIMEOUT_MS: '30000', ...extra },
    },
    floor: { script: join(root, 'dist/bench/floor/server.js'), env: { ...common, ISSUER: issuer, AUDIENCE, INTROSPECTION_CLIENT } },
    // koa alone: a constant answer, nothing verified or stored (what every koa app pays per request).
    koa: { script: join(root, 'dist/bench/floor/bare-koa.js'), env: {} },
    peer: { script: join(root, 'dist/bench/peer/server.js'), env: { ...common, ISSUER: issuer, AUDIENCE, INTROSPECTION_CLIENT, PEER_ISSUER: PUBLIC_URL } },
  };

  try {
    for (const name of settings.targets) {
      const target = targets[name];
      if (!target) throw new Error(`unknown target ${name}`);
      process.stderr.write(`${name}: starting under callgrind\n`);
      const server = await startUnderCallgrind(target.script, target.env);
      try {
        const sessions: string[] = [];
        const exchangeRequest = (): Request => ({ method: 'POST', path: '/oauth2/token', headers: { 'content-type': FORM },
          body: `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${asset()}&client_id=bench-device` });
        for (let i = 0; i < 100; i++) {
          const res = await fetch(server.url + '/oauth2/token', exchangeRequest());
          sessions.push(((await res.json()) as { access_token: string }).access_token);
        }
        const event = (n: number): string => JSON.stringify({ seq: n, temperature: 21.5, battery: 0.87, at: 1_700_000_000_000 + n });
        const scenarios: Record<string, { build: Build; expected: number }> = {
          resource: { build: (n) => ({ method: 'GET', path: '/resource', headers: { authorization: `Bearer ${sessions[n % 100]}` } }), expected: 200 },
          introspection: { build: (n) => ({ method: 'POST', path: '/oauth2/introspect', headers: { 'content-type': FORM, authorization: BASIC }, body: `token=${sessions[n % 100]}` }), expected: 200 },
          ingest: { build: (n) => ({ method: 'POST', path: '/ingestapi', headers: { 'content-type': 'application/json', authorization: `Bearer ${sessions[n % 100]}` }, body: event(n) }), expected: 202 },
          exchange: { build: () => exchangeRequest(), expected: 200 },
          // RFC 8693, the same body as the load bench's token-exchange scenario.
          'token-exchange': {
            build: () => ({ method: 'POST', path: '/oauth2/token', headers: { 'content-type': FORM },
              body: `grant_type=${encodeURIComponent(TOKEN_EXCHANGE)}&subject_token=${asset()}&subject_token_type=${encodeURIComponent(JWT_TYPE)}&client_id=bench-device` }),
            expected: 200,
          },
          // Bearer sequence: the asset token itself at /ingestapi (verified and consumed like an exchange).
          'bearer-ingest': {
            build: (n) => ({ method: 'POST', path: '/ingestapi', headers: { 'content-type': 'application/json', authorization: `Bearer ${asset()}` }, body: event(n) }),
            expected: 202,
          },
        };
        for (const s of settings.scenarios) {
          const scenario = scenarios[s];
          if (!scenario) throw new Error(`unknown scenario ${s}`);
          // Scenarios that spend an asset token per request are capped by the tokens minted per run.
          const spends = SPENDING.has(s);
          const count = spends ? Math.min(settings.requests, 1000) : settings.requests;
          const warm = spends ? Math.min(settings.warmup, 3000) : settings.warmup;
          process.stderr.write(`${name} ${s}: warm-up ${warm}, measured ${count}\n`);
          await drive(server.url, warm, scenario.build, scenario.expected);
          await dump(server);
          await drive(server.url, count, scenario.build, scenario.expected);
          const counts = await dump(server);
          const perRequest = Math.round(counts.total / count);
          const steady = Math.round((counts.total - counts.compiling) / count);
          process.stdout.write(`${name}\t${s}\t${perRequest} instructions/request\t${steady} without JIT compilation\n`);
        }
      } finally {
        server.child.kill('SIGKILL');
        if (process.env.ICOUNT_KEEP) process.stderr.write(`${name}: callgrind dumps kept in ${server.dumps}, JIT symbols in /tmp/perf-${server.child.pid}.map\n`);
        else rmSync(server.dumps, { recursive: true, force: true });
      }
    }
  } finally {
    await redis.quit();
    await redisServer.stop();
    jwks.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
