import { spawnSync } from 'node:child_process';
import { hasRedisServer, RedisServerProcess } from './redis-server.js';

/**
 * Builds dist/ once per run (tests that spawn the real server process, `node dist/src/server.js`,
 * need it; keeping the build here keeps it in one place), then provides Redis.
 */
function buildOnce() {
  const result = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error('npm run build failed: tests need dist/');
}

/**
 * Tests run against a real Redis: a redis-server of the run's own on a free port when the binary is
 * there, else TEST_REDIS_URL (default redis://127.0.0.1:6379). Every suite works under its own key
 * prefix and deletes only its own keys.
 */
export default async function globalSetup() {
  buildOnce();
  if (process.env.TEST_REDIS_URL) return;
  if (hasRedisServer()) {
    const server = await RedisServerProcess.start();
    globalThis.__agRedis = server;
    process.env.TEST_REDIS_URL = server.url;
  } else {
    process.env.TEST_REDIS_URL = 'redis://127.0.0.1:6379';
  }
}
