import type { Server } from 'node:http';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { buildRuntime } from './deps.js';
import { closeGracefully, createHttpServer } from './ops/http-server.js';
import { createLogger } from './ops/logger.js';

/** Process entry: config -> deps -> app -> listen; graceful shutdown on SIGTERM / SIGINT. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`assetgate: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  let runtime;
  try {
    runtime = await buildRuntime(config, logger);
  } catch (err) {
    logger.fatal({ err: { message: (err as Error).message } }, 'start-up failed');
    process.stderr.write(`assetgate: start-up failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const app = createApp(runtime.deps);
  const server: Server = createHttpServer(config.http, app.callback());
  server.listen(config.port, config.host);
  server.once('listening', () => {
    logger.info({ port: config.port, host: config.host, publicUrl: config.publicUrl, mode: config.mode }, 'assetgate listening');
  });
  server.once('error', (err) => {
    logger.fatal({ err: { message: err.message } }, 'listen failed');
    process.exit(1);
  });

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
        process.exit(0);
      });
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

await main();
