import type { RedisServerProcess } from './redis-server.js';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __agRedis?: RedisServerProcess }).__agRedis?.stop();
}
