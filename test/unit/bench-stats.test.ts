import { describe, expect, it } from '@jest/globals';
import {
  checkTargets,
  markdownTable,
  median,
  percentile,
  ratio,
  ratioChartSvg,
  summarizeScenario,
  type RoundResult,
  type Target,
} from '../../bench/lib/stats.js';

const round = (target: Target, rps: number, extra: Partial<RoundResult> = {}): RoundResult => ({
  scenario: 'resource check',
  target,
  round: 1,
  requests: rps * 3,
  rps,
  p50Ms: 1,
  p99Ms: 4,
  errors: 0,
  rssBytes: 100 * 1024 * 1024,
  serverCpuUs: 50,
  redisCpuUs: 10,
  ...extra,
});

describe('bench statistics', () => {
  it('interpolates percentiles between closest ranks', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([10, 1, 5], 0)).toBe(1);
    expect(percentile([10, 1, 5], 100)).toBe(10);
    expect(percentile(Array.from({ length: 101 }, (_, i) => i), 99)).toBe(99);
    expect(median([3, 1, 2])).toBe(2);
    expect(() => percentile([], 50)).toThrow(RangeError);
  });

  it('gives no ratio for a missing or zero denominator', () => {
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(3, 0)).toBeNull();
    expect(ratio(null, 2)).toBeNull();
  });

  it('takes medians over rounds and ratios against floor and peer', () => {
    const rounds = [
      round('project', 900),
      round('project', 1100, { round: 2 }),
      round('project', 1000, { round: 3 }),
      round('floor', 800),
      round('peer', 400),
    ];
    const s = summarizeScenario('resource check', rounds);
    expect(s.targets.project.rps).toBe(1000);
    expect(s.ratios.vsFloor).toBe(1.25);
    expect(s.ratios.vsPeer).toBe(2.5);
    expect(s.ratios.p99VsFloor).toBe(1);
  });

  it('flags a target with errors and does not count its figures', () => {
    const s = summarizeScenario('resource check', [round('project', 5000, { errors: 3 }), round('floor', 1000), round('peer', 1000)]);
    expect(s.targets.project.rps).toBeNull();
    expect(s.targets.project.note).toContain('3 errors');
    expect(s.ratios.vsFloor).toBeNull();
    expect(markdownTable([s])).toContain('3 errors: not counted');
  });

  it('marks an unavailable target and leaves its ratio out', () => {
    const s = summarizeScenario('introspection', [round('floor', 1000), round('peer', 1000)].map((r) => ({ ...r, scenario: 'introspection' })), {
      project: 'endpoint not in this build',
    });
    expect(s.ratios.vsPeer).toBeNull();
    expect(markdownTable([s])).toContain('endpoint not in this build');
  });

  it('renders the ratio table and chart', () => {
    const s = summarizeScenario('resource check', [round('project', 1500), round('floor', 1000), round('peer', 500)]);
    const table = markdownTable([s]);
    expect(table.split('\n')).toHaveLength(3);
    expect(table).toContain('| 1.50× | 3.00× |');
    const svg = ratioChartSvg([s], 'a <title>');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('a &lt;title&gt;');
    expect(svg).toContain('1.50×');
    expect(svg).toContain('3.00×');
  });

  it('checks the issue targets', () => {
    const s = summarizeScenario('resource check', [round('project', 1500), round('floor', 1000), round('peer', 1000)]);
    const checks = checkTargets({ summaries: [s], bytesPerToken: 300, projectMaxRss: 100 * 1024 * 1024, linearRatio: 0.95 });
    const byName = Object.fromEntries(checks.map((c) => [c.target, c.ok]));
    expect(byName['resource check: ≥ 0.9× floor req/s']).toBe(true);
    expect(Object.keys(byName).some((name) => name.startsWith('resource check') && name.includes('peer'))).toBe(false);
    expect(byName['resource check: p99 ≤ 1.5× floor p99']).toBe(true);
    expect(byName['Redis ≤ 250 bytes per live access token']).toBe(false);
    expect(byName['server RSS under load ≤ 200 MB']).toBe(true);
    expect(byName['exchange rate at many live tokens ≥ 0.9× the rate at few']).toBe(true);
  });

  it('checks the exchange against the floor on req/s and on server CPU per request, and against the peer', () => {
    const s = summarizeScenario('exchange (jwt-bearer)', [
      round('project', 1200, { scenario: 'exchange (jwt-bearer)', serverCpuUs: 80 }),
      round('floor', 1000, { scenario: 'exchange (jwt-bearer)', serverCpuUs: 100 }),
      round('peer', 1000, { scenario: 'exchange (jwt-bearer)' }),
    ]);
    const byName = Object.fromEntries(checkTargets({ summaries: [s], bytesPerToken: 200, projectMaxRss: null, linearRatio: null }).map((c) => [c.target, c.ok]));
    expect(byName['exchange (jwt-bearer): ≥ 1.1× floor req/s']).toBe(true);
    expect(byName['exchange (jwt-bearer): ≤ 0.9× floor server CPU per request']).toBe(true);
    expect(byName['exchange (jwt-bearer): ≥ 1.8× peer req/s']).toBe(false);
    expect(byName['server RSS under load ≤ 200 MB']).toBeNull();
  });
});
