import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { createRedisClient, waitForReady } from '../../src/tokens/redis-client.js';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';

/** Counts the socket-level writes (one per syscall batch) of the client's current connection. */
function countWrites(redis: Redis): { writes: () => number; chunks: () => number } {
  type WriteCallback = (err?: Error | null) => void;
  const stream = (
    redis as unknown as {
      stream: Writable & {
        _write: (chunk: unknown, enc: BufferEncoding, cb: WriteCallback) => void;
        _writev?: (list: unknown[], cb: WriteCallback) => void;
      };
    }
  ).stream;
  let writes = 0;
  let chunks = 0;
  const write = stream._write.bind(stream);
  const writev = stream._writev?.bind(stream);
  stream._write = (chunk: unknown, enc: BufferEncoding, cb: WriteCallback) => {
    writes += 1;
    chunks += 1;
    write(chunk, enc, cb);
  };
  if (writev) {
    stream._writev = (list: unknown[], cb: WriteCallback) => {
      writes += 1;
      chunks += list.length;
      writev(list, cb);
    };
  }
  return { writes: () => writes, chunks: () => chunks };
}

describe('Redis write coalescing (one writev per event-loop batch, no auto-pipelining)', () => {
  let redis: Redis;
  const prefix = uniquePrefix();

  beforeAll(async () => {
    redis = createRedisClient(testRedisUrl());
    await waitForReady(redis, 5000);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('sends commands issued in one batch in a single socket write, each answered correctly', async () => {
    const counter = countWrites(redis);
    const n = 25;
    const sets = Array.from({ length: n }, (_, i) => redis.set(`${prefix}${i}`, `value-${i}`));
    await Promise.all(sets);
    expect(counter.writes()).toBe(1);
    expect(counter.chunks()).toBe(n);
    const values = await Promise.all(Array.from({ length: n }, (_, i) => redis.get(`${prefix}${i}`)));
    expect(values).toEqual(Array.from({ length: n }, (_, i) => `value-${i}`));
    expect(counter.writes()).toBe(2);
  });

  it('does not wait for earlier replies: a later batch is written while the first is still pending', async () => {
    const counter = countWrites(redis);
    const slow = redis.eval('local t = redis.call("TIME") local s = tonumber(t[1]) * 1e6 + tonumber(t[2]) while true do local u = redis.call("TIME") if tonumber(u[1]) * 1e6 + tonumber(u[2]) - s > 50000 then break end end return 1', 0);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const fast = redis.get(`${prefix}0`);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    // Both commands are on the wire before the slow script has answered.
    expect(counter.writes()).toBe(2);
    await expect(slow).resolves.toBe(1);
    await expect(fast).resolves.toBe('value-0');
  });

  it('each new connection is coalesced too (after a reconnect)', async () => {
    redis.disconnect(true);
    await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
    const counter = countWrites(redis);
    await Promise.all([redis.get(`${prefix}1`), redis.get(`${prefix}2`), redis.get(`${prefix}3`)]);
    expect(counter.writes()).toBe(1);
    expect(counter.chunks()).toBe(3);
  });
});
