import type { Clock } from '../clock.js';
import type { Principal } from '../resource/guard.js';
import type { Metrics } from './metrics.js';

/** One line of the development activity page: device ids only, never a token. */
export interface ActivityEntry {
  at: number;
  kind: 'exchange' | 'resource' | 'ingest';
  /** Verified device (did, else subject); absent for a refused exchange. */
  device?: string;
  /** "issued", "ok", an OAuth error code or a rejection reason. */
  outcome: string;
  via?: Principal['via'];
  ms?: number;
}

export interface DeviceActivity {
  device: string;
  firstSeen: number;
  lastSeen: number;
  exchanges: number;
  calls: number;
  events: number;
}

const RECENT = 50;
const DEVICES = 200;
const RATE_WINDOW_SECONDS = 60;

/**
 * Bounded, in-memory record of recent activity for the development page (never built in
 * production): a ring of recent entries, the most recently seen devices, and per-second ingest counts.
 */
export class ActivityLog {
  private readonly recent: ActivityEntry[] = [];
  private readonly devices = new Map<string, DeviceActivity>();
  private readonly ingestBuckets = new Map<number, number>();

  constructor(private readonly clock: Clock) {}

  private push(entry: ActivityEntry): void {
    this.recent.push(entry);
    if (this.recent.length > RECENT) this.recent.shift();
  }

  private device(id: string, now: number): DeviceActivity {
    let d = this.devices.get(id);
    if (d) {
      this.devices.delete(id); // re-insert: the Map's order is the recency order
    } else {
      d = { device: id, firstSeen: now, lastSeen: now, exchanges: 0, calls: 0, events: 0 };
      if (this.devices.size >= DEVICES) this.devices.delete(this.devices.keys().next().value!);
    }
    d.lastSeen = now;
    this.devices.set(id, d);
    return d;
  }

  exchange(device: string | undefined, outcome: string): void {
    const now = this.clock.now();
    const entry: ActivityEntry = { at: now, kind: 'exchange', outcome };
    if (device !== undefined) {
      entry.device = device;
      this.device(device, now).exchanges += 1;
    }
    this.push(entry);
  }

  call(route: string, principal: Principal, outcome: string, ms: number, ingested: boolean): void {
    const now = this.clock.now();
    const id = principal.did ?? principal.sub;
    const d = this.device(id, now);
    d.calls += 1;
    if (ingested) {
      d.events += 1;
      const second = Math.floor(now / 1000);
      this.ingestBuckets.set(second, (this.ingestBuckets.get(second) ?? 0) + 1);
      for (const s of this.ingestBuckets.keys()) if (s <= second - RATE_WINDOW_SECONDS) this.ingestBuckets.delete(s);
    }
    this.push({ at: now, kind: route.startsWith('/ingest') ? 'ingest' : 'resource', device: id, outcome, via: principal.via, ms: Math.round(ms * 10) / 10 });
  }

  /** What GET /dev/activity serves: totals from the Prometheus counters, the rest from this log. */
  async snapshot(metrics: Metrics): Promise<Record<string, unknown>> {
    const now = this.clock.now();
    const second = Math.floor(now / 1000);
    const series: number[] = [];
    for (let s = second - RATE_WINDOW_SECONDS + 1; s <= second; s++) series.push(this.ingestBuckets.get(s) ?? 0);
    const last10 = series.slice(-10).reduce((a, b) => a + b, 0);

    const sum = async (counter: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number> }> }> }, match: (l: Record<string, string | number>) => boolean) =>
      (await counter.get()).values.filter((v) => match(v.labels)).reduce((a, v) => a + v.value, 0);
    const rejections: Record<string, number> = {};
    for (const v of (await metrics.rejections.get()).values) {
      const reason = String(v.labels.reason);
      rejections[reason] = (rejections[reason] ?? 0) + v.value;
    }
    return {
      now,
      totals: {
        exchangesIssued: await sum(metrics.exchanges, (l) => l.outcome === 'issued'),
        exchangesFailed: await sum(metrics.exchanges, (l) => l.outcome !== 'issued'),
        ingestEvents: await sum(metrics.ingestEvents, () => true),
        ingestViaAccessToken: await sum(metrics.ingestEvents, (l) => l.via === 'access_token'),
        ingestViaAssetToken: await sum(metrics.ingestEvents, (l) => l.via === 'asset_token'),
        requests: await sum(metrics.requests, () => true),
      },
      rejections,
      ingestPerSecond: last10 / 10,
      ingestSeries: series,
      devices: [...this.devices.values()].reverse().slice(0, 50),
      recent: [...this.recent].reverse(),
    };
  }
}
