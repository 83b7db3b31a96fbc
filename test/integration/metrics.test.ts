import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLogger } from '../../src/ops/logger.js';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { RedisServerProcess } from '../support/redis-server.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const METRICS_TOKEN = 'scrape-me-0123456789abcdef';

let issuer: MockIssuer;
let ag: Harness;

beforeAll(async () => {
  issuer = await MockIssuer.start();
  ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, METRICS_TOKEN } });
});
afterAll(async () => {
  await ag.close();
  await issuer.close();
});

const scrape = async (h: Harness = ag, token = METRICS_TOKEN): Promise<string> => {
  const res = await call(`${h.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text;
};
/** The value of one sample, by metric name and exact label set text; 0 when absent. */
const sample = (text: string, series: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
};

describe('GET /metrics (Prometheus)', () => {
  it('wants the METRICS_TOKEN bearer when one is configured', async () => {
    const none = await call(`${ag.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="assetgate"');
    const wrong = await call(`${ag.url}/metrics`, { headers: { authorization: 'Bearer not-the-token-at-all' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  it('counts requests by route and outcome, exchanges, rejections by reason, JWKS fetches and cache hits', async () => {
    const before = await scrape();
    const good = await assetToken(issuer, ag.tokenEndpoint, { claims: { did: 'metrics-device-1' } });
    const ok = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: good });
    expect(ok.status).toBe(200);
    expect((await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: good })).status).toBe(400); // replay
    const expired = await assetToken(issuer, ag.tokenEndpoint, { claims: { exp: Math.floor(Date.now() / 1000) - 3600 } });
    expect((await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: expired })).status).toBe(400);
    const resource = await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${ok.json.access_token as string}` } });
    expect(resource.status).toBe(200);
    const bearer = await assetToken(issuer, ag.tokenEndpoint, { claims: { did: 'metrics-device-1' } });
    const ingest = await call(`${ag.url}/ingestapi`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: '{"t":1}',
    });
    expect(ingest.status).toBe(202);
    expect((await call(`${ag.url}/no/such/thing`)).status).toBe(404);
    const after = await scrape();
    const delta = (series: string) => sample(after, series) - sample(before, series);

    expect(delta('assetgate_http_requests_total{route="/oauth2/token",method="POST",outcome="ok"}')).toBe(1);
    expect(delta('assetgate_http_requests_total{route="/oauth2/token",method="POST",outcome="invalid_grant"}')).toBe(2);
    expect(delta('assetgate_http_requests_total{route="/resource",method="GET",outcome="ok"}')).toBe(1);
    // Unmatched paths share one label value: no cardinality from arbitrary URLs.
    expect(delta('assetgate_http_requests_total{route="unmatched",method="GET",outcome="http_404"}')).toBe(1);
    expect(after).not.toContain('/no/such/thing');
    expect(delta(`assetgate_token_exchanges_total{grant_type="${JWT_BEARER}",outcome="issued"}`)).toBe(1);
    expect(delta(`assetgate_token_exchanges_total{grant_type="${JWT_BEARER}",outcome="invalid_grant"}`)).toBe(2);
    expect(delta('assetgate_assertion_rejections_total{stage="token",reason="replayed"}')).toBe(1);
    expect(delta('assetgate_assertion_rejections_total{stage="token",reason="expired"}')).toBe(1);
    expect(delta('assetgate_assertions_accepted_total{stage="resource"}')).toBe(1);
    expect(delta('assetgate_ingest_events_total{via="asset_token"}')).toBe(1);
    expect(delta('assetgate_http_request_duration_seconds_count{route="/oauth2/token"}')).toBe(3);
    expect(sample(after, `assetgate_jwks_fetches_total{issuer="${issuer.url}",outcome="ok"}`)).toBeGreaterThanOrEqual(1);
    expect(delta(`assetgate_jwks_cache_hits_total{issuer="${issuer.url}"}`)).toBeGreaterThanOrEqual(3);
    // Never a token or a device id in a label.
    expect(after).not.toContain(ok.json.access_token as string);
    expect(after).not.toContain('metrics-device-1');
  });

  it('writes a request id on every request log line and never the token', async () => {
    const token = await assetToken(issuer, ag.tokenEndpoint);
    const res = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: token }, { 'x-request-id': 'req-metrics-1' });
    const lines = ag.logs.filter((l) => l.includes('req-metrics-1'));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(JSON.parse(line).reqId).toBe('req-metrics-1');
    const all = ag.logs.join('');
    expect(all).not.toContain(token);
    expect(all).not.toContain(res.json.access_token as string);
  });
});

describe('Redis errors and the live-token gauge', () => {
  it('counts Redis command failures (503) and connection errors', async () => {
    const redis = await RedisServerProcess.start();
    const h = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url }, redisUrl: redis.url });
    try {
      await redis.stop();
      const res = await call(`${h.url}/resource`, { headers: { authorization: 'Bearer AAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB' } });
      expect(res.status).toBe(503);
      const text = await scrape(h, '');
      expect(sample(text, 'assetgate_redis_errors_total{kind="command"}')).toBe(1);
      expect(sample(text, 'assetgate_http_requests_total{route="/resource",method="GET",outcome="temporarily_unavailable"}')).toBe(1);
      // The client reports the refused reconnects as error events (in the background: wait for one).
      let connectionErrors = 0;
      for (let i = 0; i < 100 && connectionErrors === 0; i++) {
        connectionErrors = sample(await scrape(h, ''), 'assetgate_redis_errors_total{kind="connection"}');
        if (connectionErrors === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(connectionErrors).toBeGreaterThanOrEqual(1);
    } finally {
      await redis.start();
      await h.close();
      await redis.stop();
    }
  });

  it('reports live access tokens of the in-memory store', async () => {
    const h = await startAssetgate({ store: 'memory' });
    try {
      const dev = await call(`${h.url}/dev-issuer/asset-tokens`, { method: 'POST' });
      const ok = await postForm(h.tokenEndpoint, { grant_type: JWT_BEARER, assertion: dev.json.asset_token as string });
      expect(ok.status).toBe(200);
      expect(sample(await scrape(h, ''), 'assetgate_live_access_tokens')).toBe(1);
    } finally {
      await h.close();
    }
  });
});

describe('pretty development logs', () => {
  it('renders lines for people, keeping the request id and the redaction', () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _e, cb) {
        out += String(chunk);
        cb();
      },
    });
    const logger = createLogger('info', sink, { pretty: true });
    logger.child({ reqId: 'req-pretty-1' }).info({ authorization: 'Bearer secret-value', client_secret: 'shh-secret' }, 'hello');
    expect(() => JSON.parse(out)).toThrow(); // not JSON
    expect(out).toContain('hello');
    expect(out).toContain('req-pretty-1');
    expect(out).not.toContain('secret-value');
    expect(out).not.toContain('shh-secret');
  });
});

describe('the development issuer', () => {
  it('answers 400 invalid_request, never a 500, to a body or a cnf_jwk that is not JSON', async () => {
    const h = await startAssetgate({ store: 'memory' });
    try {
      const mint = (body: string, type = 'application/json') => call(`${h.url}/dev-issuer/asset-tokens`, { method: 'POST', headers: { 'content-type': type }, body });
      for (const [body, type] of [['{"cnf_jwk":"{not json"}', undefined], ['cnf_jwk=%7Bnot', 'application/x-www-form-urlencoded'], ['{"did":', undefined], ['[1]', undefined]] as const) {
        const res = await mint(body, type);
        expect([res.status, res.json.error]).toEqual([400, 'invalid_request']);
      }
      const jwk = JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' });
      expect((await mint(new URLSearchParams({ cnf_jwk: jwk }).toString(), 'application/x-www-form-urlencoded')).status).toBe(200);
      expect((await mint('')).status).toBe(200);
      // Ids by the verifier's rule: it mints no token the verifier would refuse.
      for (const body of ['{"did":"dev-\\ud800"}', '{"aid":""}', `{"did":"${'d'.repeat(257)}"}`, '{"did":7}']) {
        const res = await mint(body);
        expect({ body, status: res.status, error: res.json.error }).toEqual({ body, status: 400, error: 'invalid_request' });
      }
      expect((await mint('{"did":"dev-\\ud83d\\ude00"}')).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});
