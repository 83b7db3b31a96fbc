import { describe, expect, it } from '@jest/globals';
import type { RequestOutcome } from '../../src/ops/request-context.js';
import { Counter, Histogram, Registry } from 'prom-client';
import { Metrics } from '../../src/ops/metrics.js';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const outcomeOf = (route: string | undefined, method: string, status: number, seconds: number): RequestOutcome => ({
  route: route ?? 'unmatched',
  method,
  status,
  outcome: status < 400 ? 'ok' : `http_${status}`,
  seconds,
  grantType: undefined,
  principal: undefined,
});

/** The series lines of one metric family. */
const series = (text: string, family: string): string[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith(family));

/** Parses `name{a="x",b="y"} value` into a canonical form with labels sorted, so label order does not matter. */
const canonical = (line: string): string => {
  const m = /^([^{ ]+)(?:\{(.*)\})? (.*)$/.exec(line)!;
  const labels = (m[2] ?? '').split(',').filter(Boolean).sort().join(',');
  return `${m[1]}{${labels}} ${Number(m[3])}`;
};

describe('request metrics tallied on the hot path', () => {
  it('expose exactly what prom-client\'s own counter and histogram expose for the same requests', async () => {
    const metrics = new Metrics();
    const reference = new Registry();
    const counter = new Counter({ name: 'assetgate_http_requests_total', help: 'x', labelNames: ['route', 'method', 'outcome'], registers: [reference] });
    const histogram = new Histogram({ name: 'assetgate_http_request_duration_seconds', help: 'x', labelNames: ['route'], buckets: LATENCY_BUCKETS, registers: [reference] });
    // Every bucket boundary, values just either side, and values above the largest bound.
    const latencies = [0, 0.0005, ...LATENCY_BUCKETS.flatMap((b) => [b * 0.999, b, b * 1.001]), 7, 30];
    const requests: Array<[string | undefined, string, number]> = [
      ['/resource', 'GET', 200],
      ['/oauth2/token', 'POST', 400],
      ['/oauth2/token', 'POST', 200],
      [undefined, 'GET', 404],
      ['/ingestapi', 'POST', 503],
    ];
    latencies.forEach((seconds, i) => {
      const [route, method, status] = requests[i % requests.length]!;
      metrics.observeRequest(outcomeOf(route, method, status, seconds));
      const outcome = status < 400 ? 'ok' : `http_${status}`;
      counter.inc({ route: route ?? 'unmatched', method, outcome });
      histogram.observe({ route: route ?? 'unmatched' }, seconds);
    });
    const ours = await metrics.registry.metrics();
    const theirs = await reference.metrics();
    for (const family of ['assetgate_http_requests_total', 'assetgate_http_request_duration_seconds']) {
      // Exposition order and label order are not part of the format: compare canonical, sorted lines.
      const a = series(ours, family).map(canonical).sort();
      const b = series(theirs, family).map(canonical).sort();
      expect(a.length).toBeGreaterThanOrEqual(requests.length);
      expect(a).toEqual(b);
    }
    expect(ours).toContain('# TYPE assetgate_http_request_duration_seconds histogram');
    expect(ours).toContain('# TYPE assetgate_http_requests_total counter');
  });

  it('counts on across scrapes, and resetMetrics() starts both from zero', async () => {
    const metrics = new Metrics();
    const count = async (): Promise<number[]> => {
      const text = await metrics.registry.metrics();
      const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
      return [value('assetgate_http_requests_total'), value('assetgate_http_request_duration_seconds_count')];
    };
    metrics.observeRequest(outcomeOf('/resource', 'GET', 200, 0.002));
    expect(await count()).toEqual([1, 1]);
    metrics.observeRequest(outcomeOf('/resource', 'GET', 200, 0.002));
    expect(await count()).toEqual([2, 2]);
    metrics.registry.resetMetrics();
    metrics.observeRequest(outcomeOf('/resource', 'GET', 200, 0.002));
    expect(await count()).toEqual([1, 1]);
  });
});
