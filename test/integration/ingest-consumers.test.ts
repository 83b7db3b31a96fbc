import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { IngestLayout, INGEST_CONSUMER_GROUP } from '../../src/ingest/partitions.js';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { eventKey } from '../support/ingest.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { testRedisEnv } from '../support/redis.js';

/**
 * `assetgate ingest consume` as separate processes: one is SIGKILLed in the middle of a batch, and
 * another takes over what it held pending. Every event answered 202 is printed at least once.
 */
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const BIN = 'dist/src/cli/assetgate.js';

let issuer: MockIssuer;
let ag: Harness;
const children: ChildProcess[] = [];

beforeAll(async () => {
  issuer = await MockIssuer.start();
  ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url } });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await ag.close();
  await issuer.close();
});

const cliEnv = () => ({ PATH: process.env.PATH, NODE_ENV: 'test', ...testRedisEnv(), REDIS_KEY_PREFIX: ag.prefix });

/** A consumer process; its complete stdout lines, parsed. `stall`: stop reading its stdout after the first chunk. */
function consumer(name: string, claimIdleMs: number, stall = false) {
  const child = spawn(process.execPath, [BIN, 'ingest', 'consume', '--consumer', name, '--claim-idle-ms', String(claimIdleMs)], {
    env: cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: Array<Record<string, unknown>> = [];
  let partial = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += String(d)));
  child.stdout!.on('data', (d: Buffer) => {
    const text = partial + String(d);
    const parts = text.split('\n');
    partial = parts.pop()!;
    for (const line of parts) lines.push(JSON.parse(line) as Record<string, unknown>);
    // The pipe fills up and the consumer blocks in a write, in the middle of its batch.
    if (stall) child.stdout!.pause();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const closed = new Promise<void>((resolve) => child.stdout!.once('close', () => resolve()));
  /** Everything it wrote, read to the end: lines it flushed into the pipe before it died count as delivered. */
  const readToEnd = async () => {
    stall = false;
    child.stdout!.resume();
    await closed;
  };
  return { child, lines, exited, readToEnd, stderr: () => stderr };
}

async function until(probe: () => boolean | Promise<boolean>, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('assetgate ingest consume', () => {
  it('loses nothing when a consumer is SIGKILLed mid-batch: another one takes over its pending entries', async () => {
    const accepted: string[] = [];
    const pad = 'x'.repeat(700); // 400 lines of ~900 bytes: far more than a pipe holds, so the consumer blocks in a write
    for (let d = 0; d < 20; d++) {
      const ex = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken(issuer, ag.tokenEndpoint, { claims: { did: `fleet-${d}` } }) });
      const token = ex.json.access_token as string;
      for (let n = 0; n < 20; n++) {
        const res = await call(`${ag.url}/ingestapi`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ d, n, pad }),
        });
        expect(res.status).toBe(202);
        accepted.push(eventKey(res.json));
      }
    }

    const first = consumer('doomed', 60_000, true);
    await until(() => first.lines.length > 0, 'the first consumer to print');
    const layout = new IngestLayout(ag.prefix, 'ingest', 16);
    const pendingOn = async (name: string): Promise<string[]> => {
      const out: string[] = [];
      for (const p of layout.partitions) {
        const rows = (await ag.redis!.xpending(p.stream, INGEST_CONSUMER_GROUP, '-', '+', 1000, name)) as Array<[string]>;
        out.push(...rows.map(([id]) => `${p.index}/${id}`));
      }
      return out;
    };
    await until(async () => (await pendingOn('doomed')).length > 0, 'entries pending on the first consumer');
    await new Promise((r) => setTimeout(r, 300));
    first.child.kill('SIGKILL');
    await first.exited;
    await first.readToEnd();
    const orphaned = await pendingOn('doomed');
    expect(orphaned.length).toBeGreaterThan(0);

    const second = consumer('survivor', 500);
    const delivered = () => new Set([...first.lines, ...second.lines].map(eventKey));
    await until(() => accepted.every((k) => delivered().has(k)), 'every accepted event to be delivered');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);

    const fromSecond = new Set(second.lines.map(eventKey));
    expect(orphaned.filter((k) => !fromSecond.has(k))).toEqual([]);
    expect(accepted.filter((k) => !delivered().has(k))).toEqual([]);
    // Each line carries the event as the device sent it.
    const line = second.lines[0]!;
    expect(Object.keys(line)).toEqual(['id', 'partition', 'receivedAt', 'did', 'aid', 'sub', 'iss', 'body']);
    expect(line.iss).toBe(issuer.url);
    expect((line.body as { pad: string }).pad).toBe(pad);

    const status = spawnSync(process.execPath, [BIN, 'ingest', 'status', '--json'], { env: cliEnv(), encoding: 'utf8' });
    expect(status.status).toBe(0);
    const partitions = (JSON.parse(status.stdout) as { partitions: Array<{ backlog: number; pending: number; deadLetters: number }> }).partitions;
    expect(partitions).toHaveLength(16);
    expect(partitions.reduce((a, p) => a + p.backlog + p.pending + p.deadLetters, 0)).toBe(0);
  }, 60_000);

  it('stops after --max events, each acknowledged', async () => {
    const ex = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken(issuer, ag.tokenEndpoint, { claims: { did: 'max-device' } }) });
    for (let n = 0; n < 5; n++) {
      await call(`${ag.url}/ingestapi`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ex.json.access_token as string}`, 'content-type': 'application/json' },
        body: `{"n":${n}}`,
      });
    }
    const run = spawnSync(process.execPath, [BIN, 'ingest', 'consume', '--max', '3'], { env: cliEnv(), encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { body: { n: number } });
    expect(lines.map((l) => l.body.n)).toEqual([0, 1, 2]);
    const rest = spawnSync(process.execPath, [BIN, 'ingest', 'consume', '--max', '2'], { env: cliEnv(), encoding: 'utf8', timeout: 20_000 });
    expect(rest.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { body: { n: number } }).body.n)).toEqual([3, 4]);
  });
});
