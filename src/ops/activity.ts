import type { Clock } from '../clock.js';
import type { AssertionObserver } from '../assertion/observer.js';
import type { RejectionReason } from '../assertion/rejections.js';
import type { Principal } from '../resource/guard.js';
import { isIngested, type RequestOutcome } from './request-context.js';

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
 * production): a ring of recent entries, the most recently seen devices, per-second ingest counts
 * and running totals. It subscribes to the request outcomes and the token endpoint's asset-token
 * decisions (app.ts); it reads nothing of the metrics.
 */
export class ActivityLog {
  private readonly recent: ActivityEntry[] = [];
  private readonly devices = new Map<string, DeviceActivity>();
  private readonly ingestBuckets = new Map<number, number>();
  private readonly totals = { exchangesIssued: 0, exchangesFailed: 0, ingestEvents: 0, ingestViaAccessToken: 0, ingestViaAssetToken: 0, requests: 0 };
  private readonly rejections: Record<string, number> = {};

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

  private exchange(device: string | undefined, outcome: string): void {
    const now = this.clock.now();
    const entry: ActivityEntry = { at: now, kind: 'exchange', outcome };
    if (device !== undefined) {
      entry.device = device;
      this.device(device, now).exchanges += 1;
    }
    this.push(entry);
  }

  /** Asset tokens refused at either stage are counted; the token endpoint's decisions are listed too. */
  assertionObserver(stage: 'token' | 'resource'): AssertionObserver {
    return {
      accepted: (claims) => {
        if (stage === 'token') this.exchange(claims.did ?? claims.subject, 'issued');
      },
      rejected: (reason: RejectionReason) => {
        this.rejections[reason] = (this.rejections[reason] ?? 0) + 1;
        if (stage === 'token') this.exchange(undefined, reason);
      },
      // Only the bearer sequence gives tokens back, and its calls are listed from the request outcome.
      released: () => undefined,
    };
  }

  /** Subscribed to the request context's outcomes (app.ts). */
  readonly observeRequest = (o: RequestOutcome): void => {
    const t = this.totals;
    t.requests += 1;
    if (o.grantType !== undefined) {
      if (o.outcome === 'ok') t.exchangesIssued += 1;
      else t.exchangesFailed += 1;
    }
    if (o.principal) this.call(o, o.principal);
  };

  private call(o: RequestOutcome, principal: Principal): void {
    const now = this.clock.now();
    const id = principal.did ?? principal.sub;
    const d = this.device(id, now);
    d.calls += 1;
    if (isIngested(o)) {
      d.events += 1;
      this.totals.ingestEvents += 1;
      if (principal.via === 'access_token') this.totals.ingestViaAccessToken += 1;
      else this.totals.ingestViaAssetToken += 1;
      const second = Math.floor(now / 1000);
      this.ingestBuckets.set(second, (this.ingestBuckets.get(second) ?? 0) + 1);
      for (const s of this.ingestBuckets.keys()) if (s <= second - RATE_WINDOW_SECONDS) this.ingestBuckets.delete(s);
    }
    this.push({ at: now, kind: o.route.startsWith('/ingest') ? 'ingest' : 'resource', device: id, outcome: o.outcome, via: principal.via, ms: Math.round(o.seconds * 10000) / 10 });
  }

  /** What GET /dev/activity serves. */
  snapshot(): Record<string, unknown> {
    const now = this.clock.now();
    const second = Math.floor(now / 1000);
    const series: number[] = [];
    for (let s = second - RATE_WINDOW_SECONDS + 1; s <= second; s++) series.push(this.ingestBuckets.get(s) ?? 0);
    const last10 = series.slice(-10).reduce((a, b) => a + b, 0);
    return {
      now,
      totals: { ...this.totals },
      rejections: { ...this.rejections },
      ingestPerSecond: last10 / 10,
      ingestSeries: series,
      devices: [...this.devices.values()].reverse().slice(0, 50),
      recent: [...this.recent].reverse(),
    };
  }
}
