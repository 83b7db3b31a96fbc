import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { postForm } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { dropPrefix, migratedPrefix, plainClient, testRedisUrl } from '../support/redis.js';
import { startServerProcess, stopAll, type ServerProcess } from '../support/server-process.js';
import { parseRawResponse, type RawResponse } from '../support/attack.js';
import { eventKey, storedEvents } from '../support/ingest.js';

/**
 * SIGTERM under load against the real server process (`node dist/src/server.js`, built by the
 * jest global setup): requests in flight when the signal arrives complete with 202, new
 * connections are refused, the process exits 0, and every event that got a 202 is in the stream.
 */
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

let issuer: MockIssuer;
let redis: Redis;
let prefix: string;
let server: ServerProcess;
let url: string;

beforeAll(async () => {
  issuer = await MockIssuer.start();
  redis = plainClient();
  prefix = await migratedPrefix(redis);
  server = await startServerProcess((publicUrl) => ({
    NODE_ENV: 'test',
    PUBLIC_URL: publicUrl,
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: prefix,
    TRUSTED_ISSUERS: issuer.url,
    LOG_LEVEL: 'info',
    INGEST_DEVICE_MAX_EVENTS: '0', // one device sends the whole load
    // Both longer than the test's own timeout: only a real drain lets this test pass.
    SHUTDOWN_GRACE_MS: '60000',
    HTTP_KEEPALIVE_TIMEOUT_MS: '60000',
  }));
  url = server.url;
});
afterAll(async () => {
  stopAll();
  await dropPrefix(redis, prefix);
  redis.disconnect();
  await issuer.close();
});

/** A request whose body is only half sent: in flight until `finish()`. */
function halfSentIngest(token: string, n: number): { finish(): Promise<RawResponse>; socket: Socket } {
  const { port } = new URL(url);
  const body = JSON.stringify({ inflight: n, pad: 'p'.repeat(200) });
  const socket = connect(Number(port), '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (d) => chunks.push(d));
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  socket.on('error', () => undefined);
  const split = Math.floor(body.length / 2);
  socket.write(
    `POST /ingestapi HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, split)}`,
  );
  return {
    socket,
    async finish() {
      socket.write(body.slice(split));
      // The server answers with Connection: close while shutting down; wait for the full answer.
      await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
      return parseRawResponse(Buffer.concat(chunks).toString('utf8'));
    },
  };
}

describe('SIGTERM under load', () => {
  it('finishes in-flight requests, refuses new ones, exits 0, and loses no 202', async () => {
    const exchanged = await postForm(`${url}/oauth2/token`, { grant_type: JWT_BEARER, assertion: await assetToken(issuer, `${url}/oauth2/token`) });
    expect(exchanged.status).toBe(200);
    const token = exchanged.json.access_token as string;

    // Load: a few workers posting events until the server goes away.
    const accepted: string[] = [];
    const statuses: number[] = [];
    let running = true;
    const workers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; running; i++) {
        try {
          const res = await fetch(`${url}/ingestapi`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ w, i }),
          });
          statuses.push(res.status);
          const json = (await res.json()) as { id?: string; partition?: number };
          if (res.status === 202) accepted.push(eventKey(json));
        } catch {
          // connection refused or closed by the shutdown: the client saw no 202, so nothing to lose
          if (server.child.exitCode !== null) return;
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    });
    while (accepted.length < 50) await new Promise((r) => setTimeout(r, 20));

    const inFlight = Array.from({ length: 5 }, (_, n) => halfSentIngest(token, n));
    await new Promise((r) => setTimeout(r, 300)); // let the server read their heads
    server.child.kill('SIGTERM');
    await server.waitForLine(/shutting down/);

    // New connections are refused once the listener is closed.
    const refused = await fetch(`${url}/healthz`).then(
      () => false,
      () => true,
    );
    expect(refused).toBe(true);

    const answers = await Promise.all(inFlight.map((r) => r.finish()));
    for (const a of answers) {
      expect(a.status).toBe(202);
      expect(typeof a.json.id).toBe('string');
      accepted.push(eventKey(a.json));
    }
    expect(await server.exited).toBe(0);
    running = false;
    await Promise.all(workers);

    expect(statuses.filter((s) => s !== 202)).toEqual([]);
    const entries = await storedEvents(redis, prefix);
    const ids = new Set(entries.map(eventKey));
    expect(accepted.filter((id) => !ids.has(id))).toEqual([]);
    const inflightBodies = entries.map((e) => e.fields.body!).filter((b) => b.includes('inflight'));
    expect(inflightBodies).toHaveLength(5);
    expect(server.output()).toMatch(/"msg":"stopped"/);
    // Drained on its own: keep-alive clients were told to close, the grace period never ran out.
    expect(server.output()).not.toMatch(/grace period over/);
  });
});
