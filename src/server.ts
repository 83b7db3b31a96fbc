import cluster from 'node:cluster';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { isProcessEntry } from './cli/is-entry.js';
import { systemClock } from './clock.js';
import { loadEffectiveConfig } from './config-file.js';
import { ConfigError } from './config.js';
import { buildRuntime } from './deps.js';
import { aggregateWorkerMetrics } from './ops/cluster-metrics.js';
import { closeGracefully, createHttpServer } from './ops/http-server.js';
import { createProcessLogger, exitWhenWritten } from './ops/logger.js';

export interface MainOptions {
  /** Configuration file (`assetgate serve --config`); else ASSETGATE_CONFIG. */
  configFile?: string | undefined;
}

/** Process entry: config -> deps -> app -> listen; graceful shutdown on SIGTERM / SIGINT. */
export async function main(env: NodeJS.ProcessEnv = process.env, options: MainOptions = {}): Promise<void> {
  let config;
  try {
    config = loadEffectiveConfig(env, options);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) process.stderr.write(`assetgate: configuration error: ${problem}\n`);
      process.exit(2);
    }
    throw err;
  }
  // Pretty lines for a person at a terminal in development; JSON everywhere else.
  const logger = createProcessLogger(config.logLevel, { pretty: config.mode === 'development' && process.stdout.isTTY === true });
  if (cluster.isPrimary) for (const warning of config.warnings) logger.warn(warning);
  if (config.workers > 1 && cluster.isPrimary) {
    superviseWorkers(config.workers, logger);
    return;
  }
  let runtime;
  try {
    runtime = await buildRuntime(config, logger, systemClock, { processMetrics: true, acrossWorkers: cluster.isWorker });
  } catch (err) {
    startupFailed(logger, 'start-up failed', err);
  }
  const app = createApp(runtime.deps);
  const server: Server = createHttpServer(config.http, app.callback());
  server.listen(config.port, config.host);
  server.once('listening', () => {
    logger.info({ pid: process.pid, port: config.port, host: config.host, publicUrl: config.publicUrl, mode: config.mode }, 'assetgate listening');
  });
  server.once('error', (err) => startupFailed(logger, `cannot listen on ${config.host}:${config.port}`, err));

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const force = setTimeout(() => {
      logger.warn('grace period over: closing remaining connections');
      server.closeAllConnections();
    }, config.shutdownGraceMs);
    force.unref();
    closeGracefully(server, () => {
      void runtime.close().finally(() => {
        logger.info('stopped');
        exitWhenWritten(logger, 0);
      });
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** The reason on stderr (one line, for a person or a container log) and in the JSON log, then exit 1. */
function startupFailed(logger: Logger, what: string, err: unknown): never {
  logger.fatal({ err }, what);
  process.stderr.write(`assetgate: ${what}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

/**
 * WORKERS=N: the primary forks N processes sharing the port (node:cluster), restarts a worker that
 * dies after it started, and forwards SIGTERM / SIGINT so each finishes its in-flight requests.
 * A worker that dies before it listens (keyspace not migrated, port taken, Redis unreachable) would
 * fail the same way again: the primary stops the others and exits with the worker's code, as one
 * process does, so the service manager sees the failure instead of a restart loop.
 */
function superviseWorkers(count: number, logger: Logger): void {
  let stopping = false;
  let exitCode = 0;
  const listening = new Set<number>();
  aggregateWorkerMetrics();
  for (let i = 0; i < count; i++) cluster.fork();
  cluster.on('listening', (worker) => listening.add(worker.id));
  cluster.on('exit', (worker, code, signal) => {
    const started = listening.delete(worker.id);
    if (!started && !stopping) {
      exitCode = code || 1;
      logger.fatal({ pid: worker.process.pid, code, signal }, 'a worker failed to start: stopping');
      stop('SIGTERM');
    }
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        logger.info('all workers stopped');
        exitWhenWritten(logger, exitCode);
      }
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'worker died: starting another');
    setTimeout(() => cluster.fork(), 500);
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: count }, 'stopping workers');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  logger.info({ workers: count }, 'primary started workers');
}

// Runs only as the process entry (`npm start`); the CLI imports main() for `assetgate serve`.
if (isProcessEntry(import.meta.url)) await main();
