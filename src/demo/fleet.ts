import { isLoopbackHost } from '../loopback.js';
import { GRANT_JWT_BEARER, PATHS } from '../oauth/constants.js';

/**
 * A simulated fleet against a running assetgate with the development issuer: every device mints asset
 * tokens at /dev-issuer/asset-tokens and runs both sequences (DOMAIN.md):
 *   exchange: mint -> POST /oauth2/token -> GET /resource -> POST /ingestapi (access token) x N
 *   bearer:   (mint -> POST /ingestapi with the asset token itself) x N
 */

export const STEPS = ['mint', 'exchange', 'resource', 'ingest (access token)', 'ingest (asset token)'] as const;
export type Step = (typeof STEPS)[number];

export const FLEET_LIMITS = { devices: 1000, events: 100, concurrency: 64 } as const;

export interface FleetOptions {
  url: string;
  devices: number;
  /** Events per device and per sequence. */
  events: number;
  concurrency: number;
  /** Non-loopback servers only with this set. */
  allowRemote?: boolean;
  /** Called after every request. */
  onRequest?: () => void;
}

export interface StepSummary {
  step: Step;
  requests: number;
  failures: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface FleetReport {
  devices: string[];
  requests: number;
  failures: number;
  seconds: number;
  steps: StepSummary[];
  /** The first few failures, for the operator. */
  failureSamples: string[];
}

export class FleetError extends Error {
  override name = 'FleetError';
}

/** Total requests a run will make (for the progress bar). */
export const plannedRequests = (o: Pick<FleetOptions, 'devices' | 'events'>): number => o.devices * (3 + 3 * o.events);

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function checkFleetOptions(o: FleetOptions): void {
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new FleetError(`"${o.url}" is not a URL`);
  }
  if (!o.allowRemote && !isLoopbackHost(url.hostname)) {
    throw new FleetError(`${url.hostname} is not a loopback address: the demo only drives a local server unless --allow-remote is given`);
  }
  const bounded = (name: keyof typeof FLEET_LIMITS, v: number) => {
    if (!Number.isInteger(v) || v < 1 || v > FLEET_LIMITS[name]) throw new FleetError(`${name} must be a whole number from 1 to ${FLEET_LIMITS[name]}`);
  };
  bounded('devices', o.devices);
  bounded('events', o.events);
  bounded('concurrency', o.concurrency);
}

export async function runFleet(options: FleetOptions): Promise<FleetReport> {
  checkFleetOptions(options);
  const base = options.url.replace(/\/+$/, '');
  const timings = new Map<Step, number[]>(STEPS.map((s) => [s, []]));
  const failures = new Map<Step, number>(STEPS.map((s) => [s, 0]));
  const samples: string[] = [];
  const runId = Math.random().toString(36).slice(2, 8);
  const devices = Array.from({ length: options.devices }, (_, i) => `demo-${runId}-${String(i + 1).padStart(4, '0')}`);

  /** One timed request; resolves with the JSON body when the status is the expected one, else null. */
  const request = async (step: Step, path: string, init: RequestInit, expected: number): Promise<Record<string, unknown> | null> => {
    const started = performance.now();
    let status = 0;
    let body: Record<string, unknown> | null = null;
    let problem = '';
    try {
      const res = await fetch(`${base}${path}`, init);
      status = res.status;
      const text = await res.text();
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = {};
      }
      if (status !== expected) problem = `${step}: HTTP ${status} ${String(body.error ?? '')} ${String(body.error_description ?? '')}`.trim();
    } catch (err) {
      problem = `${step}: ${(err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`;
    }
    timings.get(step)!.push(performance.now() - started);
    options.onRequest?.();
    if (problem) {
      failures.set(step, failures.get(step)! + 1);
      if (samples.length < 5) samples.push(problem);
      if (step === 'mint' && status === 404) {
        throw new FleetError(`${base} has no development issuer (POST ${PATHS.devIssuer}/asset-tokens answered 404): start assetgate without TRUSTED_ISSUERS, outside production`);
      }
      return null;
    }
    return body;
  };

  const json = (payload: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
  const mint = async (did: string): Promise<string | null> => {
    const body = await request('mint', `${PATHS.devIssuer}/asset-tokens`, json({ did, aid: `02i${did.slice(-8)}` }), 200);
    return typeof body?.asset_token === 'string' ? body.asset_token : null;
  };
  const event = (did: string, n: number, sequence: string) => json({ device: did, n, sequence, temperature: 20 + ((n * 7) % 10) });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

  const device = async (did: string): Promise<void> => {
    // Exchange sequence (RFC 7523): one asset token for a session.
    const assertion = await mint(did);
    let accessToken: string | null = null;
    if (assertion) {
      const body = await request(
        'exchange',
        PATHS.token,
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
          body: new URLSearchParams({ grant_type: GRANT_JWT_BEARER, assertion }).toString(),
        },
        200,
      );
      accessToken = typeof body?.access_token === 'string' ? body.access_token : null;
    }
    if (accessToken) {
      await request('resource', PATHS.resource, { headers: { authorization: `Bearer ${accessToken}` } }, 200);
      for (let n = 1; n <= options.events; n++) {
        await request('ingest (access token)', PATHS.ingest, { method: 'POST', headers: bearer(accessToken), body: event(did, n, 'exchange').body! }, 202);
      }
    }
    // Bearer sequence: a fresh asset token on every call.
    for (let n = 1; n <= options.events; n++) {
      const token = await mint(did);
      if (token) await request('ingest (asset token)', PATHS.ingest, { method: 'POST', headers: bearer(token), body: event(did, n, 'bearer').body! }, 202);
    }
  };

  const started = performance.now();
  let next = 0;
  const workers = Array.from({ length: Math.min(options.concurrency, devices.length) }, async () => {
    while (next < devices.length) await device(devices[next++]!);
  });
  await Promise.all(workers);
  const seconds = (performance.now() - started) / 1000;

  const steps = STEPS.map((step): StepSummary => {
    const sorted = [...timings.get(step)!].sort((a, b) => a - b);
    return {
      step,
      requests: sorted.length,
      failures: failures.get(step)!,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted.at(-1) ?? 0,
    };
  });
  return {
    devices,
    requests: steps.reduce((a, s) => a + s.requests, 0),
    failures: steps.reduce((a, s) => a + s.failures, 0),
    seconds,
    steps,
    failureSamples: samples,
  };
}
