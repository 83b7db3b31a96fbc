import { hasRedisServer, RedisServerProcess } from './redis-server.js';

/**
 * Tests run against a real Redis: a redis-server of the run's own on a free port when the binary is
 * there, else TEST_REDIS_URL (default redis://127.0.0.1:6379). Every suite works under its own key
 * prefix and deletes only its own keys.
 */
export default async function globalSetup() {
  if (process.env.TEST_REDIS_URL) return;
  if (hasRedisServer()) {
    const server = await RedisServerProcess.start();
    globalThis.__agRedis = server;
    process.env.TEST_REDIS_URL = server.url;
  } else {
    process.env.TEST_REDIS_URL = 'redis://127.0.0.1:6379';
  }
}
