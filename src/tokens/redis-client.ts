import type { Writable } from 'node:stream';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** Standalone, Sentinel-managed or Cluster: the store code is the same for all three. */
export type RedisConnection = Redis | Cluster;

/** How long a command or a connection attempt may take before the request gets its 503. */
export interface RedisTimeouts {
  commandMs: number;
  connectMs: number;
}

/** Defaults of REDIS_COMMAND_TIMEOUT_MS and REDIS_CONNECT_TIMEOUT_MS, also of createRedisClient(url) used directly. */
export const DEFAULT_REDIS_TIMEOUTS: RedisTimeouts = { commandMs: 2000, connectMs: 2000 };

export interface HostPort {
  host: string;
  port: number;
}

export interface RedisAuth {
  username?: string;
  password?: string;
  tls: boolean;
}

/** How to reach Redis: one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS. */
export type RedisTopology = (
  | { kind: 'standalone'; url: string; auth: RedisAuth }
  | { kind: 'cluster'; nodes: HostPort[]; auth: RedisAuth }
  | { kind: 'sentinel'; sentinels: HostPort[]; name: string; sentinelPassword?: string; auth: RedisAuth }
) & { timeouts: RedisTimeouts };

/**
 * Connection policy: fail fast instead of queueing while Redis is away (the client gets a 503 it
 * can retry, never a hung request), reconnect forever in the background.
 */
const FAIL_FAST: RedisOptions = {
  // No auto-pipelining: coalesceWrites (below) saves the same syscalls without a Pipeline object and two promises per command.
  enableAutoPipelining: false,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: DEFAULT_REDIS_TIMEOUTS.connectMs,
  commandTimeout: DEFAULT_REDIS_TIMEOUTS.commandMs,
  retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
};

export function createRedisClient(url: string, overrides: RedisOptions = {}): Redis {
  return coalesced(new Redis(url, { ...FAIL_FAST, ...overrides }));
}

/**
 * Write coalescing: commands written while the event loop works through one batch of I/O events
 * (one HTTP request each) leave in a single writev once the batch is done (setImmediate). The same
 * syscall saving as ioredis's auto-pipelining without its cost: no Pipeline object and two extra
 * promises per command, and no waiting for the previous batch's replies before sending the next.
 */
export function coalesceWrites(socket: Writable): void {
  if (coalescedSockets.has(socket)) return;
  coalescedSockets.add(socket);
  const write = socket.write;
  let corked = false;
  const flush = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = function coalescedWrite(this: Writable, ...args: Parameters<Writable['write']>): boolean {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(flush);
    }
    return write.apply(this, args);
  } as Writable['write'];
}
const coalescedSockets = new WeakSet<Writable>();

/** Whether coalesceWrites has taken over this socket (tests check every topology's connections). */
export const isCoalesced = (socket: Writable): boolean => coalescedSockets.has(socket);

/** Coalesces the writes of every connection the client makes (each reconnect brings a new socket). */
function coalesced<T extends Redis>(redis: T): T {
  redis.on('connect', () => coalesceWrites((redis as unknown as { stream: Writable }).stream));
  return redis;
}

/** Credentials, TLS and the configured timeouts (REDIS_COMMAND_TIMEOUT_MS, REDIS_CONNECT_TIMEOUT_MS). */
function connectionOptions({ auth, timeouts }: RedisTopology): RedisOptions {
  const options: RedisOptions = { commandTimeout: timeouts.commandMs, connectTimeout: timeouts.connectMs };
  if (auth.username) options.username = auth.username;
  if (auth.password) options.password = auth.password;
  if (auth.tls) options.tls = {};
  return options;
}

/** One connection for the configured topology (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS). */
export function connectRedis(topology: RedisTopology, overrides: RedisOptions = {}): RedisConnection {
  switch (topology.kind) {
    case 'standalone':
      return createRedisClient(topology.url, { ...connectionOptions(topology), ...overrides });
    case 'sentinel': {
      const options: RedisOptions = {
        ...FAIL_FAST,
        ...connectionOptions(topology),
        sentinels: topology.sentinels,
        name: topology.name,
        // Sentinel failover: reconnect to whichever node is master now.
        sentinelRetryStrategy: (times: number) => Math.min(100 * times, 1000),
        ...overrides,
      };
      if (topology.sentinelPassword) options.sentinelPassword = topology.sentinelPassword;
      if (topology.auth.tls) options.enableTLSForSentinelMode = true;
      return coalesced(new Redis(options));
    }
    case 'cluster': {
      const cluster = new Cluster(topology.nodes, {
        enableOfflineQueue: overrides.enableOfflineQueue ?? false,
        clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
        slotsRefreshTimeout: topology.timeouts.commandMs, // CLUSTER SLOTS is a command like any other
        redisOptions: { ...FAIL_FAST, ...connectionOptions(topology), ...overrides },
      });
      cluster.on('+node', (node: Redis) => coalesced(node));
      return cluster;
    }
  }
}

/** Resolves when the client is ready, rejects after timeoutMs. */
export function waitForReady(redis: RedisConnection, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}
