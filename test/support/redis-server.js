import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

export function hasRedisServer() {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Resolves once a redis-server (or sentinel) on this loopback port answers PING. @param {number} port */
export async function waitForPing(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined); // refused while the server starts: expected
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return;
    } catch {
      client.disconnect();
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A redis-server of the test's own, on a free loopback port; stop() and start() again on the same port. */
export class RedisServerProcess {
  /** @type {import('node:child_process').ChildProcess | undefined} */
  child;
  /** @param {number} port @param {string[]} [extraArgs] */
  constructor(port, extraArgs = []) {
    this.port = port;
    this.extraArgs = extraArgs;
  }

  /** @param {string[]} [extraArgs] @returns {Promise<RedisServerProcess>} */
  static async start(extraArgs = []) {
    const server = new RedisServerProcess(await freePort(), extraArgs);
    await server.start();
    return server;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start() {
    this.child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...this.extraArgs],
      { stdio: 'ignore' },
    );
    await waitForPing(this.port);
  }

  async stop() {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
    this.child = undefined;
  }

  /** Freezes the server (SIGSTOP): connections stay open, commands hang. */
  pause() {
    this.child?.kill('SIGSTOP');
  }

  resume() {
    this.child?.kill('SIGCONT');
  }

  get pid() {
    return this.child?.pid;
  }
}
