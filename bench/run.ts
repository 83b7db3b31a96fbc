/**
 * `npm run bench`: the project against the floor (bench/floor) and the peer (bench/peer, oidc-provider),
 * interleaved round by round in one run, everything on loopback: its own redis-server, a local issuer
 * serving the JWKS, and each server as a child process. Writes bench/results/<date>.json, latest.md
 * and latest.svg. Settings (env): BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_TOKENS,
 * BENCH_MEMORY_TOKENS, BENCH_LIVE_SMALL, BENCH_LIVE_LARGE, BENCH_SCENARIOS (comma list of name prefixes;
 * add "linear" / "memory" to run those checks in a filtered run), BENCH_PROFILE_DIR (write a V8 CPU
 * profile of the project server there), BENCH_PROJECT_SERVER (another build's dist/src/server.js, for
 * before/after comparisons). A filtered run writes its JSON to bench/.cache/ and leaves results/ alone.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort, RedisServerProcess } from '../test/support/redis-server.js';
import { mintAccessToken } from '../src/tokens/access-token.js';
import { encodeRecord, IssuerDirectory, ResourceDirectory } from '../src/tokens/record-codec.js';
import { openRedisTokenStore } from '../src/tokens/redis-store.js';
import { migrate } from '../src/tokens/schema.js';
import { startIssuer, tokenPool } from './lib/issuer.js';
import { runLoad, type NextRequest } from './lib/load.js';
import { cpuMicrosOf, killLeftovers, startServer, type ServerProcess } from './lib/processes.js';
import {
  checkTargets,
  checksTable,
  cpuTable,
  formatBytes,
  markdownTable,
  median,
  ratioChartSvg,
  summarizeScenario,
  summarizeTarget,
  TARGETS,
  variantTable,
  type RoundResult,
  type Target,
} from './lib/stats.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cacheDir = join(root, 'bench', '.cache');
const resultsDir = join(root, 'bench', 'results');
const intEnv = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : fallback;
};
const settings = {
  rounds: intEnv('BENCH_ROUNDS', 2),
  seconds: intEnv('BENCH_SECONDS', 3),
  connections: intEnv('BENCH_CONNECTIONS', 16),
  tokens: intEnv('BENCH_TOKENS', 700_000),
  memoryTokens: intEnv('BENCH_MEMORY_TOKENS', 100_000),
  liveSmall: intEnv('BENCH_LIVE_SMALL', 10_000),
  liveLarge: intEnv('BENCH_LIVE_LARGE', 1_000_000),
  sessionsPerTarget: 1000,
};
const AUDIENCE = 'https://assetgate.bench/oauth2/token';
const PUBLIC_URL = 'https://assetgate.bench';
const PROJECT_PREFIX = 'ag:';
const INTROSPECTION_CLIENT = 'bench-rs:bench-secret-0123456789'; // secrets need 16+ characters
const BASIC = `Basic ${Buffer.from(INTROSPECTION_CLIENT).toString('base64')}`;
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const FORM = 'application/x-www-form-urlencoded';

/**
 * Project variants measured in the same rounds (after the three targets of each scenario), compared
 * with the project as configured by default (WORKERS=1, no resource cache).
 */
type Variant = { name: string; env: Record<string, string>; scenarios: string[] };
/**
 * `BENCH_VARIANTS="name:KEY=v,KEY2=v;other:KEY=v"` replaces the default variants (before/after settings
 * in one run); `BENCH_ENTRY=<path to dist/src/server.js>` among the settings runs another build.
 */
const variantsFromEnv = (spec: string): Variant[] =>
  spec.split(';').filter(Boolean).map((part) => {
    const [name, settings = ''] = part.split(':');
    const env = Object.fromEntries(settings.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    return { name: `project ${name!.trim()}`, env, scenarios: [] };
  });
const VARIANTS: Variant[] = process.env.BENCH_VARIANTS ? variantsFromEnv(process.env.BENCH_VARIANTS) : [
  { name: 'project WORKERS=2', env: { WORKERS: '2' }, scenarios: [] /* all */ },
  {
    name: 'project resource cache',
    env: { RESOURCE_CACHE_TTL_MS: '1000' },
    scenarios: ['resource check', 'ingest (access token)'],
  },
  // The access log's cost at the default level: the same server with its one line per request off.
  { name: 'project LOG_LEVEL=warn', env: { LOG_LEVEL: 'warn' }, scenarios: [] /* all */ },
];

const status = (line: string): void => {
  process.stderr.write(`\r\x1b[K${line}`);
};
const log = (line: string): void => {
  process.stderr.write(`\r\x1b[K${line}\n`);
};

/** Fresh asset tokens, handed out once each across the whole run. */
class AssetTokenSupply {
  private next = 0;
  constructor(private readonly tokens: string[]) {}
  take(): string | undefined {
    return this.tokens[this.next++];
  }
  get left(): number {
    return this.tokens.length - this.next;
  }
}

interface Scenario {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  /** Builds the per-request supplier for one target's round. */
  supplier(target: Target): NextRequest;
}

function scenarios(supply: AssetTokenSupply, sessions: Record<Target, string[]>): Scenario[] {
  const rotating = (target: Target, build: (token: string) => ReturnType<NextRequest>): NextRequest => {
    let i = 0;
    return () => {
      const list = sessions[target];
      return build(list[i++ % list.length]!);
    };
  };
  const fresh = (build: (token: string) => ReturnType<NextRequest>): NextRequest => () => {
    const t = supply.take();
    return t === undefined ? undefined : build(t);
  };
  let seq = 0;
  const event = (): string => JSON.stringify({ seq: seq++, temperature: 21.5, battery: 0.87, at: Date.now() });
  return [
    {
      name: 'exchange (jwt-bearer)',
      method: 'POST',
      path: '/oauth2/token',
      headers: { 'content-type': FORM },
      supplier: () => fresh((t) => ({ body: `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${t}&client_id=bench-device` })),
    },
    {
      name: 'exchange (token-exchange)',
      method: 'POST',
      path: '/oauth2/token',
      headers: { 'content-type': FORM },
      supplier: () =>
        fresh((t) => ({
          body: `grant_type=${encodeURIComponent(TOKEN_EXCHANGE)}&subject_token=${t}&subject_token_type=${encodeURIComponent(JWT_TYPE)}&client_id=bench-device`,
        })),
    },
    {
      name: 'ingest (bearer sequence)',
      method: 'POST',
      path: '/ingestapi',
      headers: { 'content-type': 'application/json' },
      supplier: () => fresh((t) => ({ body: event(), headers: { authorization: `Bearer ${t}` } })),
    },
    {
      name: 'resource check',
      method: 'GET',
      path: '/resource',
      headers: {},
      supplier: (target) => rotating(target, (t) => ({ headers: { authorization: `Bearer ${t}` } })),
    },
    {
      name: 'ingest (access token)',
      method: 'POST',
      path: '/ingestapi',
      headers: { 'content-type': 'application/json' },
      supplier: (target) => rotating(target, (t) => ({ body: event(), headers: { authorization: `Bearer ${t}` } })),
    },
    {
      name: 'introspection',
      method: 'POST',
      path: '/oauth2/introspect',
      headers: { 'content-type': FORM, authorization: BASIC },
      supplier: (target) => rotating(target, (t) => ({ body: `token=${t}` })),
    },
  ];
}

/** Live access tokens for the lookup scenarios, obtained through each target's own exchange. */
async function openSessions(server: ServerProcess, supply: AssetTokenSupply, count: number): Promise<string[]> {
  const out: string[] = [];
  let failures = 0;
  const worker = async (): Promise<void> => {
    while (out.length + failures < count) {
      const t = supply.take();
      if (t === undefined) throw new Error('asset token pool exhausted while opening sessions');
      const res = await fetch(`${server.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': FORM },
        body: `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${t}&client_id=bench-device`,
      });
      const json = (await res.json()) as { access_token?: string };
      if (res.status === 200 && json.access_token) out.push(json.access_token);
      else failures += 1;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  if (failures > 0) throw new Error(`${server.name}: ${failures} of ${count} exchanges failed while opening sessions`);
  return out;
}

/** Is there an introspection endpoint taking our client? (The project gains one in a later issue.) */
async function introspectionAvailable(server: ServerProcess, token: string): Promise<string | undefined> {
  const res = await fetch(`${server.url}/oauth2/introspect`, {
    method: 'POST',
    headers: { 'content-type': FORM, authorization: BASIC },
    body: `token=${token}`,
  });
  const json = (await res.json().catch(() => ({}))) as { active?: boolean };
  if (res.status === 404) return 'endpoint not in this build';
  if (res.status !== 200 || json.active !== true) return `introspection answered ${res.status} active=${String(json.active)}`;
  return undefined;
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? '0');
}

/**
 * Redis bytes per live access token, through the project's own store (RedisTokenStore.consumeAssertion,
 * the call the exchange makes; direct because 100k HTTP exchanges need 100k signed assertions):
 * a fresh redis-server, INFO used_memory delta over N exchanges (token + single-use mark), then over N
 * marks alone after FLUSHALL; the difference is the token's own share.
 */
async function measureMemory(count: number, issuer: string) {
  const server = await RedisServerProcess.start();
  redisServers.push(server);
  const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  // A session for one configured resource server pays for its audience; one for the built-in resource does not.
  const resourceServer = 'https://telemetry.assetgate.bench';
  const store = await openRedisTokenStore(redis, {
    keyPrefix: PROJECT_PREFIX,
    revocationMarkTtlMs: 3_660_000,
    clock: { now: () => Date.now() },
    issuers: [issuer],
    resources: { builtin: PUBLIC_URL, servers: [resourceServer] },
  }); // as the server does at start-up
  const now = Date.now();
  const exp = Math.floor(now / 1000) + 29 * 86400;
  const run = async (withToken: boolean, salt: string, aud: readonly string[] = [PUBLIC_URL]): Promise<number> => {
    const before = await usedMemory(redis);
    for (let i = 0; i < count; i += 1000) {
      const batch: Promise<unknown>[] = [];
      for (let j = i; j < Math.min(count, i + 1000); j++) {
        const did = `6ac9bc22-2a41-b85a-af76-${(j % 100_000).toString(16).padStart(12, '0')}`;
        const use = { iss: issuer, jti: `05b${salt}${j.toString(36).padStart(11, '0')}`, subject: did, forgetAtMs: exp * 1000, issuedAtMs: now - 60_000 };
        const { handle } = mintAccessToken(use);
        const record = { sub: did, did, aid: `02i${(j % 100_000).toString(36).padStart(12, '0')}`, iss: issuer, jti: use.jti, aud, iat: now, exp: now + 3_600_000 };
        batch.push(store.consumeAssertion(use, withToken ? { handle, record } : undefined));
      }
      await Promise.all(batch);
      status(`memory: ${withToken ? 'exchanges' : 'marks only'} ${Math.min(count, i + 1000)}/${count}`);
    }
    return (await usedMemory(redis)) - before;
  };
  const marksOnly = await run(false, 'm');
  await redis.flushall();
  const exchanges = await run(true, 'x');
  const sampleKey = (await redis.scan('0', 'MATCH', `${PROJECT_PREFIX}*:at:*`, 'COUNT', 100))[1][0];
  const memoryUsageOfOneToken = sampleKey ? Number(await redis.memory('USAGE', sampleKey)) : null;
  await redis.flushall();
  const restricted = await run(true, 'r', [resourceServer]);
  await store.close();
  await server.stop();
  return {
    method: 'RedisTokenStore.consumeAssertion (the exchange\'s store call), not HTTP',
    tokens: count,
    bytesPerExchange: exchanges / count,
    bytesPerMark: marksOnly / count,
    bytesPerToken: (exchanges - marksOnly) / count,
    bytesPerRestrictedToken: (restricted - marksOnly) / count,
    memoryUsageOfOneToken,
  };
}

/**
 * Pre-fills live tokens with the project's key layout (token key and single-use mark per device hash
 * tag, realistic record), server-side with a Lua loop so a million keys take seconds.
 */
const FILL_SCRIPT = `
local prefix, first, n, value, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
for i = first, first + n - 1 do
  local h = redis.sha1hex('fill' .. i)
  local tag = string.sub(redis.sha1hex('device' .. (i % 100000)), 1, 12)
  redis.call('SET', prefix .. '{' .. tag .. '}:at:' .. string.sub(h, 1, 22), value, 'PX', ttl)
  redis.call('SET', prefix .. '{' .. tag .. '}:jti:' .. string.sub(redis.sha1hex('jti' .. i), 1, 22), '1', 'PX', ttl)
end
return n
`;

async function fillLiveTokens(redis: Redis, from: number, to: number, issuer: string): Promise<void> {
  const now = Date.now();
  const did = '6ac9bc22-2a41-b85a-af76-000000000001';
  const value = encodeRecord(
    { sub: did, did, aid: '02i000000000001', iss: issuer, jti: '05b0000000001abcdef', aud: [PUBLIC_URL], iat: now, exp: now + 3_600_000 },
    new IssuerDirectory([issuer], true),
    new ResourceDirectory(PUBLIC_URL),
  );
  for (let i = from; i < to; i += 10_000) {
    const n = Math.min(10_000, to - i);
    await redis.eval(FILL_SCRIPT, 0, PROJECT_PREFIX, String(i), String(n), value, '3600000');
    status(`linear check: filling live tokens ${i + n}/${to}`);
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const notes: string[] = [];
  log(`assetgate bench: ${settings.rounds} rounds × ${settings.seconds} s, ${settings.connections} connections, ${cpus().length} cores`);

  // The issuer keeps its port between runs, since the port is part of `iss` in cached tokens.
  const { identity, server: jwksServer, url: issuer } = await startIssuer(cacheDir, freePort);
  const tokens = await tokenPool(cacheDir, identity, AUDIENCE, settings.tokens, (done, total) => status(`minting asset tokens (cached for later runs): ${done}/${total}`));
  const supply = new AssetTokenSupply(tokens);
  log(`asset tokens: ${tokens.length} ready (issuer ${issuer})`);

  const redisServer = await RedisServerProcess.start();
  redisServers.push(redisServer);
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  await migrate({ redis, keyPrefix: PROJECT_PREFIX, ingestStream: 'ingest' });
  const redisVersion = /^redis_version:(\S+)/m.exec(await redis.info('server'))?.[1] ?? 'unknown';

  // Ingest at its production defaults: no consumer runs, the partitions' backlog limits are far above a run's events.
  const common = { REDIS_URL: redisServer.url };
  const projectEnv = (extra: Record<string, string>) => ({
    ...common,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    REDIS_KEY_PREFIX: PROJECT_PREFIX,
    TRUSTED_ISSUERS: issuer,
    PUBLIC_URL,
    TOKEN_AUDIENCES: AUDIENCE,
    INTROSPECTION_CLIENTS: INTROSPECTION_CLIENT,
    WORKERS: '1', // production defaults to one per core; the variants below measure WORKERS=2
    ...extra,
  });
  // Each server's stdout (the project's access log) to a file of the run's, as in a deployment.
  const logFile = (name: string): string => join(cacheDir, `stdout-${name.replace(/[^A-Za-z0-9=-]+/g, '_')}.log`);
  const projectEntry = process.env.BENCH_PROJECT_SERVER ?? join(root, 'dist/src/server.js');
  const profileDir = process.env.BENCH_PROFILE_DIR;
  const profiled = (target: Target): string[] => [
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${target}.cpuprofile`] : []),
    // Extra node flags for the project only (e.g. V8 heap settings), for before/after runs.
    ...(target === 'project' && process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ').filter(Boolean) : []),
    // The same for every target (e.g. a preloaded probe).
    ...(process.env.BENCH_ALL_NODE_ARGS ? process.env.BENCH_ALL_NODE_ARGS.split(' ').filter(Boolean) : []),
  ];
  const servers: Record<Target, ServerProcess> = {
    project: await startServer('project', projectEntry, await freePort(), projectEnv({}), profiled('project'), logFile('project')),
    floor: await startServer('floor', join(root, 'dist/bench/floor/server.js'), await freePort(), {
      ...common,
      ISSUER: issuer,
      AUDIENCE,
      INTROSPECTION_CLIENT,
    }, profiled('floor'), logFile('floor')),
    peer: await startServer('peer', join(root, 'dist/bench/peer/server.js'), await freePort(), {
      ...common,
      ISSUER: issuer,
      AUDIENCE,
      INTROSPECTION_CLIENT,
      PEER_ISSUER: PUBLIC_URL,
    }, profiled('peer'), logFile('peer')),
  };
  const variantServers: ServerProcess[] = process.env.BENCH_NO_VARIANTS
    ? []
    : await Promise.all(
        VARIANTS.map(async (v) => {
          const { BENCH_ENTRY: entry, ...env } = v.env;
          return startServer(v.name, entry ?? projectEntry, await freePort(), projectEnv(env), [], logFile(v.name));
        }),
      );
  const idleRss = Object.fromEntries(TARGETS.map((t) => [t, servers[t].rss()])) as Record<Target, number>;

  const sessions = {} as Record<Target, string[]>;
  for (const t of TARGETS) {
    status(`opening ${settings.sessionsPerTarget} sessions on ${t}`);
    sessions[t] = await openSessions(servers[t], supply, settings.sessionsPerTarget);
  }
  // Variants share the project's keyspace, so the project's sessions are theirs too.
  for (const v of variantServers) sessions[v.name as Target] = sessions.project;
  const unavailable: Record<string, Partial<Record<Target, string>>> = { introspection: {} };
  for (const t of TARGETS) {
    const why = await introspectionAvailable(servers[t], sessions[t][0]!);
    if (why) {
      unavailable.introspection![t] = why;
      notes.push(`introspection on ${t}: ${why}`);
    }
  }

  const filter = (process.env.BENCH_SCENARIOS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const list = scenarios(supply, sessions).filter((s) => filter.length === 0 || filter.some((f) => s.name.startsWith(f)));
  const rounds: RoundResult[] = [];
  const total = settings.rounds * list.length * (TARGETS.length + variantServers.length);
  let step = 0;
  for (let round = 1; round <= settings.rounds; round++) {
    // Scenarios rotate too: token-exchange always running right after jwt-bearer read 0.75x the
    // floor twice while jwt-bearer read 0.95x, for the same work (one form field apart).
    const scenarioOrder = list.map((_, i) => list[(i + round - 1) % list.length]!);
    for (const scenario of scenarioOrder) {
      // Rotate who goes first each round (variants included), so no target always runs on a warmer
      // (or cooler) machine.
      const names: string[] = [...TARGETS];
      for (const [i, v] of VARIANTS.entries()) {
        if (variantServers[i] && (v.scenarios.length === 0 || v.scenarios.includes(scenario.name))) names.push(v.name);
      }
      const order = names.map((_, i) => names[(i + round - 1) % names.length]!);
      for (const name of order) {
        const target = name as Target;
        step += 1;
        if (unavailable[scenario.name]?.[target]) continue;
        const server = servers[target] ?? variantServers.find((s) => s.name === name)!;
        const cpuBefore = server.cpuMicros();
        const redisBefore = redisServer.pid ? cpuMicrosOf(redisServer.pid) : 0;
        status(`[${step}/${total}] round ${round}/${settings.rounds} · ${scenario.name} · ${target} · ${supply.left} asset tokens left`);
        const r = await runLoad({
          url: server.url,
          method: scenario.method,
          path: scenario.path,
          headers: scenario.headers,
          next: scenario.supplier(target),
          connections: settings.connections,
          seconds: settings.seconds,
        });
        if (r.exhausted) notes.push(`${scenario.name} ${target} round ${round}: asset token pool ran out; raise BENCH_TOKENS`);
        const result: RoundResult = {
          scenario: scenario.name,
          target,
          round,
          requests: r.requests,
          rps: r.rps,
          p50Ms: r.p50Ms,
          p99Ms: r.p99Ms,
          errors: r.errors,
          rssBytes: server.rss(),
          serverCpuUs: (server.cpuMicros() - cpuBefore) / Math.max(1, r.ok + r.errors),
          redisCpuUs: ((redisServer.pid ? cpuMicrosOf(redisServer.pid) : 0) - redisBefore) / Math.max(1, r.ok + r.errors),
        };
        rounds.push(result);
        log(
          `${scenario.name.padEnd(26)} ${target.padEnd(8)} r${round}: ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  errors ${r.errors}  cpu ${result.serverCpuUs.toFixed(0)}+${result.redisCpuUs.toFixed(0)} µs/req  rss ${formatBytes(result.rssBytes)}`,
        );
      }
    }
  }

  // Linear cost: the project's exchange rate with few vs many live tokens. Two fresh redis-servers
  // (one filled with liveSmall tokens, one with liveLarge) and a project server on each, measured in
  // alternating rounds: the machine's load drifts, and consecutive blocks would measure the drift.
  let linear: { small: number; large: number; smallRps: number[]; largeRps: number[]; ratio: number | null } | undefined;
  if (filter.length === 0 || filter.includes('linear')) {
    const exchange = list.find((s) => s.name === 'exchange (jwt-bearer)') ?? scenarios(supply, sessions)[0]!;
    const keyspaces = [];
    for (const live of [settings.liveSmall, settings.liveLarge]) {
      const server = await RedisServerProcess.start();
      redisServers.push(server);
      const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
      await migrate({ redis: client, keyPrefix: PROJECT_PREFIX, ingestStream: 'ingest' });
      await fillLiveTokens(client, 0, live, issuer);
      const keys = await client.dbsize();
      client.disconnect();
      const project = await startServer(`project (${live} live)`, projectEntry, await freePort(), projectEnv({ REDIS_URL: server.url }), [], logFile(`project-${live}-live`));
      keyspaces.push({ live, redis: server, project, keys, rps: [] as number[] });
    }
    const exchangeOn = (server: ServerProcess, seconds: number) =>
      runLoad({ url: server.url, method: 'POST', path: exchange.path, headers: exchange.headers, next: exchange.supplier('project'), connections: settings.connections, seconds });
    // A fresh server's first second (JIT, JWKS fetch, connection set-up) belongs to neither side.
    for (const k of keyspaces) {
      status(`linear check: warming up the server at ${k.live} live tokens`);
      await exchangeOn(k.project, 1);
    }
    const rounds = Math.max(settings.rounds, 4);
    for (let i = 0; i < rounds; i++) {
      for (const k of i % 2 === 0 ? keyspaces : [...keyspaces].reverse()) {
        status(`linear check: exchange at ${k.live} live tokens, round ${i + 1}/${rounds}`);
        const r = await exchangeOn(k.project, settings.seconds);
        k.rps.push(r.errors === 0 ? r.rps : Number.NaN);
      }
    }
    for (const k of keyspaces) {
      await k.project.stop();
      await k.redis.stop();
    }
    const [small, large] = keyspaces as [(typeof keyspaces)[number], (typeof keyspaces)[number]];
    const ok = (xs: number[]) => xs.every((x) => Number.isFinite(x));
    linear = { small: small.live, large: large.live, smallRps: small.rps, largeRps: large.rps, ratio: ok(small.rps) && ok(large.rps) ? median(large.rps) / median(small.rps) : null };
    log(`linear check: ${median(small.rps).toFixed(0)} req/s at ${small.live} live tokens (${small.keys} keys), ${median(large.rps).toFixed(0)} req/s at ${large.live} (${large.keys} keys), alternating rounds`);
  }

  for (const t of TARGETS) await servers[t].stop();
  for (const v of variantServers) await v.stop();
  redis.disconnect();
  await redisServer.stop();
  jwksServer.close();

  status('measuring Redis bytes per live access token');
  const memory = filter.length === 0 || filter.includes('memory') ? await measureMemory(settings.memoryTokens, issuer) : undefined;
  if (memory) {
    log(
      `redis: ${memory.bytesPerToken.toFixed(0)} B per access token (${memory.bytesPerRestrictedToken.toFixed(0)} B for one resource server), ` +
        `${memory.bytesPerExchange.toFixed(0)} B per exchange with its single-use mark`,
    );
  }

  const summaries = list.map((s) => summarizeScenario(s.name, rounds, unavailable[s.name] ?? {}));
  const variants = variantServers.map((server) => ({
    name: server.name,
    env: VARIANTS.find((v) => v.name === server.name)!.env,
    scenarios: list
      .map((s) => ({ scenario: s.name, summary: summarizeTarget(rounds.filter((r) => r.scenario === s.name && (r.target as string) === server.name)) }))
      .filter((x) => x.summary.rounds > 0),
  }));
  const variantLines = variantTable(summaries, variants);
  const maxRss = Object.fromEntries(TARGETS.map((t) => [t, Math.max(0, ...rounds.filter((r) => r.target === t).map((r) => r.rssBytes))])) as Record<Target, number>;
  const checks = checkTargets({
    summaries,
    bytesPerToken: memory?.bytesPerToken ?? null,
    projectMaxRss: maxRss.project || null,
    linearRatio: linear?.ratio ?? null,
  });
  const date = new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryBytes: totalmem(), node: process.version, redis: redisVersion };
  const report = {
    date,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    machine,
    settings,
    peer: 'oidc-provider 8.8.1 (the newest line supporting Node 20; 9.x asks for Node 22)',
    rounds,
    summaries,
    idleRss,
    maxRss,
    memory,
    linear,
    variants,
    checks,
    notes,
  };
  if (filter.length > 0 || process.env.BENCH_PROJECT_SERVER || process.env.BENCH_VARIANTS || process.env.BENCH_NODE_ARGS || process.env.BENCH_ALL_NODE_ARGS) {
    writeFileSync(join(cacheDir, `partial-${date}.json`), `${JSON.stringify(report, null, 2)}\n`);
    log(`partial run: wrote bench/.cache/partial-${date}.json`);
    return;
  }
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${date}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(resultsDir, 'latest.svg'), ratioChartSvg(summaries, `assetgate req/s ratios, ${date.slice(0, 10)}`));
  const md = [
    `# Benchmark results (${date})`,
    '',
    `${machine.cpus} cores (${machine.cpuModel}), Node ${machine.node}, Redis ${machine.redis}; load generator (autocannon, ${settings.connections} connections) on the same machine.`,
    `${settings.rounds} rounds of ${settings.seconds} s per scenario and target, interleaved; medians over rounds. Peer: ${report.peer}.`,
    '',
    markdownTable(summaries),
    '',
    'CPU time per request (server process / Redis), medians over rounds: steadier than req/s when other work shares the machine.',
    '',
    cpuTable(summaries),
    '',
    `Server RSS, idle → highest under load: ${TARGETS.map((t) => `${t} ${formatBytes(idleRss[t])} → ${formatBytes(maxRss[t])}`).join(', ')}.`,
    memory
      ? `Redis per live access token: ${memory.bytesPerToken.toFixed(0)} B (${memory.bytesPerExchange.toFixed(0)} B per exchange including the asset token's single-use mark; ${memory.tokens} tokens, INFO used_memory delta, via ${memory.method}).`
      : 'Redis per live access token: not measured in this run.',
    linear
      ? `Linear cost: exchange at ${linear.large} live tokens ${median(linear.largeRps).toFixed(0)} req/s vs ${median(linear.smallRps).toFixed(0)} req/s at ${linear.small} (${linear.ratio === null ? 'n/a' : `${linear.ratio.toFixed(2)}×`}); two fresh Redis keyspaces filled server-side with the project's key layout, one project server on each, alternating rounds.`
      : 'Linear cost: not measured in this run.',
    '',
    'Project variants, same rounds (project = WORKERS=1, no resource cache):',
    '',
    variantLines,
    '',
    '![project / floor and project / peer](latest.svg)',
    '',
    '## Targets',
    '',
    checksTable(checks),
    '',
    ...(notes.length ? ['## Notes', '', ...notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
  writeFileSync(join(resultsDir, 'latest.md'), md);
  log(`\n${markdownTable(summaries)}\n\nwrote bench/results/${date}.json, latest.md, latest.svg in ${report.durationSeconds} s`);
}

/** Redis servers of this run, killed on any exit. */
const redisServers: RedisServerProcess[] = [];
process.on('exit', () => {
  killLeftovers();
  for (const r of redisServers) r.child?.kill('SIGKILL');
});
process.on('SIGINT', () => process.exit(130));

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`bench failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
