/**
 * Pure helpers of the benchmark: round aggregation, ratios, the Markdown table and the SVG chart.
 * No I/O here, so they are unit-tested (test/unit/bench-stats.test.ts).
 */

export const TARGETS = ['project', 'floor', 'peer'] as const;
export type Target = (typeof TARGETS)[number];

/** One measured round of one scenario against one target. */
export interface RoundResult {
  scenario: string;
  target: Target;
  round: number;
  requests: number;
  /** Requests per second over the round (2xx answers only count when errors is 0). */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Transport errors, timeouts and non-2xx answers. */
  errors: number;
  /** Resident set of the server process right after the round, bytes. */
  rssBytes: number;
  /** Server process CPU time per answered request, microseconds: steady even when the machine is busy. */
  serverCpuUs: number;
  /** Redis CPU time per answered request, microseconds. */
  redisCpuUs: number;
}

/** A scenario's figures for one target across its rounds; null figures when unusable. */
export interface TargetSummary {
  rps: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  errors: number;
  rounds: number;
  maxRssBytes: number | null;
  serverCpuUs: number | null;
  redisCpuUs: number | null;
  /** Why the figures are missing or flagged (errors, not available). */
  note?: string;
}

export interface ScenarioSummary {
  scenario: string;
  targets: Record<Target, TargetSummary>;
  /** project / floor and project / peer on req/s; project p99 / floor p99. */
  ratios: { vsFloor: number | null; vsPeer: number | null; p99VsFloor: number | null };
}

/** The p-th percentile (0..100) of values by linear interpolation between closest ranks. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of an empty list');
  if (p < 0 || p > 100) throw new RangeError('percentile must lie in 0..100');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export const median = (values: readonly number[]): number => percentile(values, 50);

/** a / b, or null when either is missing or b is zero. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return a / b;
}

/**
 * Medians over rounds. A target with errors in any round of a scenario is flagged and its figures
 * are not counted (a server that fails fast would otherwise look quick).
 */
export function summarizeTarget(rounds: readonly RoundResult[], unavailable?: string): TargetSummary {
  const none = { rps: null, p50Ms: null, p99Ms: null, errors: 0, rounds: 0, maxRssBytes: null, serverCpuUs: null, redisCpuUs: null };
  if (unavailable !== undefined) return { ...none, note: unavailable };
  if (rounds.length === 0) return { ...none, note: 'not measured' };
  const errors = rounds.reduce((n, r) => n + r.errors, 0);
  const maxRssBytes = Math.max(...rounds.map((r) => r.rssBytes));
  if (errors > 0) {
    return { ...none, errors, rounds: rounds.length, maxRssBytes, note: `${errors} errors: not counted` };
  }
  return {
    rps: median(rounds.map((r) => r.rps)),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    errors: 0,
    rounds: rounds.length,
    maxRssBytes,
    serverCpuUs: median(rounds.map((r) => r.serverCpuUs)),
    redisCpuUs: median(rounds.map((r) => r.redisCpuUs)),
  };
}

export function summarizeScenario(
  scenario: string,
  rounds: readonly RoundResult[],
  unavailable: Partial<Record<Target, string>> = {},
): ScenarioSummary {
  const targets = Object.fromEntries(
    TARGETS.map((t) => [t, summarizeTarget(rounds.filter((r) => r.scenario === scenario && r.target === t), unavailable[t])]),
  ) as Record<Target, TargetSummary>;
  return {
    scenario,
    targets,
    ratios: {
      vsFloor: ratio(targets.project.rps, targets.floor.rps),
      vsPeer: ratio(targets.project.rps, targets.peer.rps),
      p99VsFloor: ratio(targets.project.p99Ms, targets.floor.p99Ms),
    },
  };
}

const fmt = (v: number | null, digits = 0): string => (v === null ? '–' : v.toFixed(digits));
const fmtRatio = (v: number | null): string => (v === null ? '–' : `${v.toFixed(2)}×`);
const fmtMs = (v: number | null): string => (v === null ? '–' : v < 10 ? v.toFixed(2) : v.toFixed(1));

function cell(s: TargetSummary): string {
  if (s.rps === null) return s.note ? `– (${s.note})` : '–';
  return `${fmt(s.rps)} req/s · p50 ${fmtMs(s.p50Ms)} ms · p99 ${fmtMs(s.p99Ms)} ms`;
}

/** The results table: one row per scenario, figures per target, then the ratios. */
export function markdownTable(summaries: readonly ScenarioSummary[]): string {
  const lines = [
    '| scenario | project | floor | peer (oidc-provider) | project / floor | project / peer | p99 project / floor |',
    '| --- | --- | --- | --- | ---: | ---: | ---: |',
  ];
  for (const s of summaries) {
    lines.push(
      `| ${s.scenario} | ${cell(s.targets.project)} | ${cell(s.targets.floor)} | ${cell(s.targets.peer)} | ${fmtRatio(s.ratios.vsFloor)} | ${fmtRatio(s.ratios.vsPeer)} | ${fmtRatio(s.ratios.p99VsFloor)} |`,
    );
  }
  return lines.join('\n');
}

/** CPU cost per request (server process and Redis): the figure that stays put on a busy machine. */
export function cpuTable(summaries: readonly ScenarioSummary[]): string {
  const us = (v: number | null): string => (v === null ? '–' : `${v.toFixed(0)} µs`);
  const lines = [
    '| scenario | project server / Redis | floor server / Redis | peer server / Redis |',
    '| --- | ---: | ---: | ---: |',
  ];
  for (const s of summaries) {
    const c = (t: TargetSummary): string => `${us(t.serverCpuUs)} / ${us(t.redisCpuUs)}`;
    lines.push(`| ${s.scenario} | ${c(s.targets.project)} | ${c(s.targets.floor)} | ${c(s.targets.peer)} |`);
  }
  return lines.join('\n');
}

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * Horizontal bar chart of the req/s ratios (project / floor and project / peer) per scenario,
 * with a line at 1× and the targets marked; hand-written SVG, no dependency.
 */
export function ratioChartSvg(summaries: readonly ScenarioSummary[], title: string): string {
  const rowHeight = 44;
  const left = 220;
  const plotWidth = 520;
  const top = 48;
  const height = top + summaries.length * rowHeight + 48;
  const width = left + plotWidth + 40;
  const values = summaries.flatMap((s) => [s.ratios.vsFloor, s.ratios.vsPeer]).filter((v): v is number => v !== null);
  const maxRatio = Math.max(2.5, Math.ceil(Math.max(0, ...values) * 2) / 2);
  const x = (v: number): number => left + (Math.min(v, maxRatio) / maxRatio) * plotWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    `<rect x="${left}" y="28" width="10" height="10" fill="#2f6fb3"/><text x="${left + 14}" y="37">project / floor</text>`,
    `<rect x="${left + 130}" y="28" width="10" height="10" fill="#e08a2c"/><text x="${left + 144}" y="37">project / peer</text>`,
  ];
  for (let tick = 0; tick <= maxRatio + 1e-9; tick += 0.5) {
    const tx = x(tick).toFixed(1);
    const strong = tick === 1;
    parts.push(
      `<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${height - 36}" stroke="${strong ? '#333' : '#ddd'}" stroke-width="${strong ? 1.5 : 1}"/>`,
      `<text x="${tx}" y="${height - 20}" text-anchor="middle">${tick.toFixed(1)}×</text>`,
    );
  }
  summaries.forEach((s, i) => {
    const y = top + i * rowHeight;
    parts.push(`<text x="${left - 8}" y="${y + 22}" text-anchor="end">${escapeXml(s.scenario)}</text>`);
    const bars: Array<[number | null, string, number]> = [
      [s.ratios.vsFloor, '#2f6fb3', y + 4],
      [s.ratios.vsPeer, '#e08a2c', y + 20],
    ];
    for (const [v, colour, by] of bars) {
      if (v === null) {
        parts.push(`<text x="${left + 4}" y="${by + 11}" fill="#999">n/a</text>`);
        continue;
      }
      parts.push(
        `<rect x="${left}" y="${by}" width="${(x(v) - left).toFixed(1)}" height="14" fill="${colour}"/>`,
        `<text x="${(x(v) + 4).toFixed(1)}" y="${by + 11}">${v.toFixed(2)}×</text>`,
      );
    }
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n.toFixed(0)} B`;
}

/** The issue's targets, checked against one run's figures. */
export interface TargetCheck {
  target: string;
  measured: string;
  ok: boolean | null;
}

export interface RunFigures {
  summaries: readonly ScenarioSummary[];
  /** Redis bytes per live access token (null when not measured). */
  bytesPerToken: number | null;
  /** Highest project RSS seen under load, bytes. */
  projectMaxRss: number | null;
  /** Exchange rate at the large live-token count / rate at the small one. */
  linearRatio: number | null;
}

/**
 * Per scenario: the least req/s against the floor and against the peer (null: no target), and for
 * the exchanges the most server CPU per request against the floor's.
 */
const SCENARIO_TARGETS: ReadonlyArray<{ scenario: RegExp; vsFloor: number; vsPeer: number | null; cpuVsFloor?: number }> = [
  { scenario: /^exchange/, vsFloor: 1.1, vsPeer: 1.8, cpuVsFloor: 0.9 },
  { scenario: /^ingest \(bearer sequence\)/, vsFloor: 1.0, vsPeer: 1.5 },
  // The peer's routes here are thin routes beside oidc-provider, a second floor: no peer target.
  { scenario: /^(resource check|ingest \(access token\))/, vsFloor: 0.9, vsPeer: null },
  { scenario: /^introspection/, vsFloor: 0.9, vsPeer: 2.5 },
];
const P99_VS_FLOOR = 1.5;

export function checkTargets(f: RunFigures): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const atLeast = (name: string, value: number | null, min: number): void => {
    checks.push({ target: name, measured: value === null ? 'n/a' : `${value.toFixed(2)}×`, ok: value === null ? null : value >= min });
  };
  const atMost = (name: string, value: number | null, max: number): void => {
    checks.push({ target: name, measured: value === null ? 'n/a' : `${value.toFixed(2)}×`, ok: value === null ? null : value <= max });
  };
  for (const s of f.summaries) {
    const t = SCENARIO_TARGETS.find((x) => x.scenario.test(s.scenario));
    if (!t) continue;
    atLeast(`${s.scenario}: ≥ ${t.vsFloor.toFixed(1)}× floor req/s`, s.ratios.vsFloor, t.vsFloor);
    if (t.cpuVsFloor !== undefined) {
      atMost(`${s.scenario}: ≤ ${t.cpuVsFloor.toFixed(1)}× floor server CPU per request`, ratio(s.targets.project.serverCpuUs, s.targets.floor.serverCpuUs), t.cpuVsFloor);
    }
    if (t.vsPeer !== null) atLeast(`${s.scenario}: ≥ ${t.vsPeer.toFixed(1)}× peer req/s`, s.ratios.vsPeer, t.vsPeer);
  }
  for (const s of f.summaries) atMost(`${s.scenario}: p99 ≤ ${P99_VS_FLOOR.toFixed(1)}× floor p99`, s.ratios.p99VsFloor, P99_VS_FLOOR);
  checks.push({
    target: 'Redis ≤ 250 bytes per live access token',
    measured: f.bytesPerToken === null ? 'n/a' : `${f.bytesPerToken.toFixed(0)} B`,
    ok: f.bytesPerToken === null ? null : f.bytesPerToken <= 250,
  });
  checks.push({
    target: 'server RSS under load ≤ 200 MB',
    measured: f.projectMaxRss === null ? 'n/a' : formatBytes(f.projectMaxRss),
    ok: f.projectMaxRss === null ? null : f.projectMaxRss <= 200 * 1024 * 1024,
  });
  checks.push({
    target: 'exchange rate at many live tokens ≥ 0.9× the rate at few',
    measured: f.linearRatio === null ? 'n/a' : `${f.linearRatio.toFixed(2)}×`,
    ok: f.linearRatio === null ? null : f.linearRatio >= 0.9,
  });
  return checks;
}

export function checksTable(checks: readonly TargetCheck[]): string {
  const mark = (ok: boolean | null): string => (ok === null ? 'not measured' : ok ? 'met' : 'MISSED');
  return ['| target | measured | |', '| --- | ---: | --- |', ...checks.map((c) => `| ${c.target} | ${c.measured} | ${mark(c.ok)} |`)].join('\n');
}

export interface VariantResult {
  name: string;
  env: Record<string, string>;
  scenarios: Array<{ scenario: string; summary: TargetSummary }>;
}

/** Variants of the project (other settings, same rounds) against the default project and the floor. */
export function variantTable(summaries: readonly ScenarioSummary[], variants: readonly VariantResult[]): string {
  const rows = ['| variant | scenario | req/s · p50 · p99 | CPU server / Redis | variant / project | variant / floor |', '| --- | --- | --- | ---: | ---: | ---: |'];
  for (const v of variants) {
    for (const { scenario, summary } of v.scenarios) {
      const base = summaries.find((s) => s.scenario === scenario);
      rows.push(
        `| ${v.name} | ${scenario} | ${cell(summary)} | ${summary.serverCpuUs === null ? '–' : `${fmt(summary.serverCpuUs)} µs / ${fmt(summary.redisCpuUs)} µs`} | ${fmtRatio(ratio(summary.rps, base?.targets.project.rps))} | ${fmtRatio(ratio(summary.rps, base?.targets.floor.rps))} |`,
      );
    }
  }
  return rows.join('\n');
}
