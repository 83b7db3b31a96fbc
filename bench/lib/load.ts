import autocannon from 'autocannon';
import { percentile } from './stats.js';

/** One request of a scenario; returns undefined when its supply (fresh asset tokens) ran out. */
export type NextRequest = () => { body?: string; headers?: Record<string, string> } | undefined;

export interface LoadSpec {
  url: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  next: NextRequest;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  requests: number;
  ok: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  exhausted: boolean;
}

/**
 * A bounded autocannon run (loopback only, fixed duration) with a fresh body per request. When the
 * supply runs out the run stops early and reports over the time it actually ran.
 */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  let exhausted = false;
  let exhaustedAt: bigint | undefined;
  const started = process.hrtime.bigint();
  let done!: (r: autocannon.Result) => void;
  let failed!: (e: Error) => void;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    done = resolve;
    failed = reject;
  });
  const instance = autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.seconds,
    timeout: 10,
    requests: [
      {
        method: spec.method,
        path: spec.path,
        headers: spec.headers,
        setupRequest: (req) => {
          const next = spec.next();
          if (!next) {
            if (!exhausted) {
              exhausted = true;
              exhaustedAt = process.hrtime.bigint();
              setImmediate(() => instance.stop());
            }
            return req;
          }
          return { ...req, ...(next.body !== undefined ? { body: next.body } : {}), headers: { ...req.headers, ...next.headers } };
        },
      },
    ],
  }, (err, result) => (err ? failed(err instanceof Error ? err : new Error(String(err))) : done(result)));
  // Our own tally, in fractional milliseconds (autocannon's histogram keeps whole milliseconds),
  // and only of requests answered before the supply ran out.
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  let endedAt: bigint | undefined;
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (exhausted) return;
    latencies.push(responseTime);
    if (statusCode >= 200 && statusCode < 300) ok += 1;
    else errors += 1;
  });
  instance.on('reqError', () => {
    if (!exhausted) errors += 1;
  });
  instance.on('done', () => {
    endedAt = process.hrtime.bigint();
  });
  const result = await finished;
  const seconds = Number((exhaustedAt ?? endedAt ?? process.hrtime.bigint()) - started) / 1e9;
  return {
    requests: latencies.length,
    ok,
    seconds,
    rps: ok / seconds,
    p50Ms: latencies.length ? percentile(latencies, 50) : 0,
    p99Ms: latencies.length ? percentile(latencies, 99) : 0,
    errors: errors + result.timeouts,
    exhausted,
  };
}
