import type { Context } from 'koa';
import { collectDefaultMetrics, Counter, Gauge, Registry, type Histogram, type MetricType, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';
import type { JwksObserver } from '../assertion/jwks.js';
import type { AssertionObserver } from '../assertion/observer.js';
import type { RejectionReason } from '../assertion/rejections.js';
import { StoreUnavailableError } from '../tokens/store.js';
import { scrapeAcrossWorkers } from './cluster-metrics.js';
import { isIngested, type RequestOutcome } from './request-context.js';

/** Where an asset token was presented: the token endpoint (exchange) or a resource (bearer sequence). */
export type AssertionStage = 'token' | 'resource';

type Inc = { inc(value?: number): void };

/** Label children cached by a string key, so the hot path allocates no label objects. */
class ChildCache<T> {
  private readonly children = new Map<string, T>();
  constructor(private readonly make: (...values: string[]) => T) {}
  get(key: string, ...values: string[]): T {
    let child = this.children.get(key);
    if (child === undefined) {
      child = this.make(...values);
      this.children.set(key, child);
    }
    return child;
  }
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** One route's requests: counts by method and outcome, and the latency histogram's buckets. */
interface RouteTally {
  outcomes: Map<string, Map<string, number>>;
  /** Observations per bucket (not cumulative); the last slot is above the largest bound. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * What every request records (count by route, method and outcome; latency by route), kept in plain
 * Maps keyed by the label strings themselves (constants: matched routes, methods, error codes) and
 * handed to prom-client when scraped. prom-client builds and hashes a label key on every inc() and
 * observe(), children included: about 5% of a resource check's instructions (bench:icount).
 */
class RequestTally {
  readonly routes = new Map<string, RouteTally>();

  record(route: string, method: string, outcome: string, seconds: number): void {
    let tally = this.routes.get(route);
    if (tally === undefined) {
      tally = { outcomes: new Map(), buckets: new Float64Array(LATENCY_BUCKETS.length + 1), sum: 0, count: 0 };
      this.routes.set(route, tally);
    }
    let byOutcome = tally.outcomes.get(method);
    if (byOutcome === undefined) tally.outcomes.set(method, (byOutcome = new Map()));
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]!) bucket += 1;
    tally.buckets[bucket]! += 1;
    tally.sum += seconds;
    tally.count += 1;
  }

  /** The latency histogram in prom-client's shape (cumulative `le` buckets, then sum and count). */
  latencyValues(name: string): MetricValueWithName<string>[] {
    const values: MetricValueWithName<string>[] = [];
    for (const [route, tally] of this.routes) {
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += tally.buckets[i]!;
        values.push({ metricName: `${name}_bucket`, labels: { le, route }, value: cumulative });
      });
      values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', route }, value: tally.count });
      values.push({ metricName: `${name}_sum`, labels: { route }, value: tally.sum });
      values.push({ metricName: `${name}_count`, labels: { route }, value: tally.count });
    }
    return values;
  }
}

/**
 * A histogram whose observations are tallied elsewhere (RequestTally): the registry only asks it
 * for its name, help, type and values (get) and to reset, as it asks prom-client's own metrics.
 */
class TalliedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly values: () => MetricValueWithName<string>[],
    private readonly clear: () => void,
  ) {}
  get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    // MetricType is a declared enum (types only, nothing to import at run time): its 'histogram' member.
    const type = 'histogram' as unknown as MetricType;
    return Promise.resolve({ name: this.name, help: this.help, type, aggregator: this.aggregator, collect: () => undefined, values: this.values() });
  }
  reset(): void {
    this.clear();
  }
}

/**
 * Prometheus metrics (one registry per app, so tests never share counters). Label values come from
 * bounded sets only: matched routes, OAuth error codes, rejection reasons, configured issuers.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly tally = new RequestTally();
  readonly requests: Counter<'route' | 'method' | 'outcome'> = (() => {
    const tally = this.tally;
    return new Counter({
      name: 'assetgate_http_requests_total',
      help: 'HTTP requests by matched route, method and outcome ("ok" or the OAuth error code).',
      labelNames: ['route', 'method', 'outcome'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [route, { outcomes }] of tally.routes) {
          for (const [method, counts] of outcomes) for (const [outcome, n] of counts) this.inc({ route, method, outcome }, n);
        }
      },
    });
  })();
  readonly latency = new TalliedHistogram(
    'assetgate_http_request_duration_seconds',
    'HTTP request latency by matched route.',
    () => this.tally.latencyValues('assetgate_http_request_duration_seconds'),
    () => this.tally.routes.clear(),
  );
  readonly exchanges = new Counter({
    name: 'assetgate_token_exchanges_total',
    help: 'Token endpoint requests by grant type and outcome ("issued" or the OAuth error code).',
    labelNames: ['grant_type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly rejections = new Counter({
    name: 'assetgate_assertion_rejections_total',
    help: 'Asset tokens refused, by stage (token endpoint or resource) and stable reason.',
    labelNames: ['stage', 'reason'] as const,
    registers: [this.registry],
  });
  readonly accepted = new Counter({
    name: 'assetgate_assertions_accepted_total',
    help: 'Asset tokens accepted, by stage.',
    labelNames: ['stage'] as const,
    registers: [this.registry],
  });
  readonly released = new Counter({
    name: 'assetgate_assertions_released_total',
    help: 'Accepted asset tokens given back (single-use mark removed) because the request failed after accepting them, by stage.',
    labelNames: ['stage'] as const,
    registers: [this.registry],
  });
  readonly ingestEvents = new Counter({
    name: 'assetgate_ingest_events_total',
    help: 'Events accepted at /ingestapi, by credential (access_token: exchange sequence; asset_token: bearer sequence).',
    labelNames: ['via'] as const,
    registers: [this.registry],
  });
  readonly jwksFetches = new Counter({
    name: 'assetgate_jwks_fetches_total',
    help: 'JWKS loads by issuer and outcome.',
    labelNames: ['issuer', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly jwksHits = new Counter({
    name: 'assetgate_jwks_cache_hits_total',
    help: 'Verification keys served from the JWKS cache without a fetch, by issuer.',
    labelNames: ['issuer'] as const,
    registers: [this.registry],
  });
  readonly redisErrors = new Counter({
    name: 'assetgate_redis_errors_total',
    help: 'Redis failures: connection (client error events) and command (requests answered 503).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  private readonly exchangeChildren = new ChildCache<Inc>((grant, outcome) => this.exchanges.labels(grant!, outcome!));
  private readonly rejectionChildren = new ChildCache<Inc>((stage, reason) => this.rejections.labels(stage!, reason!));

  /** The text of a scrape: this process's registry, or with WORKERS > 1 every worker's, summed. */
  readonly scrape: () => Promise<string>;

  constructor(options: { processMetrics?: boolean; acrossWorkers?: boolean } = {}) {
    this.registry.registerMetric(this.latency as unknown as Histogram);
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'assetgate_' });
    this.scrape = options.acrossWorkers ? scrapeAcrossWorkers(this.registry) : () => this.registry.metrics();
  }

  /** A gauge read at scrape time only (e.g. live tokens of the memory store: cheap there). */
  gaugeAtScrape(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  jwksObserver(issuer: string): JwksObserver {
    const ok = this.jwksFetches.labels(issuer, 'ok');
    const error = this.jwksFetches.labels(issuer, 'error');
    const hit = this.jwksHits.labels(issuer);
    return { fetched: (outcome) => (outcome === 'ok' ? ok : error).inc(), hit: () => hit.inc() };
  }

  assertionObserver(stage: AssertionStage): AssertionObserver {
    const accepted = this.accepted.labels(stage);
    const released = this.released.labels(stage);
    return {
      accepted: () => accepted.inc(),
      released: () => released.inc(),
      rejected: (reason: RejectionReason) => this.rejectionChildren.get(`${stage}|${reason}`, stage, reason).inc(),
    };
  }

  redisConnectionError(): void {
    this.redisErrors.labels('connection').inc();
  }

  /** Given to the error renderer: sees what was thrown before it becomes an OAuth error. */
  readonly failureCause = (thrown: unknown): void => {
    if (thrown instanceof StoreUnavailableError) this.redisErrors.labels('command').inc();
  };

  /** Subscribed to the request context's outcomes (app.ts): every request by route, method, outcome and latency. */
  readonly observeRequest = (o: RequestOutcome): void => {
    this.tally.record(o.route, o.method, o.outcome, o.seconds);
    if (o.grantType !== undefined) {
      const result = o.outcome === 'ok' ? 'issued' : o.outcome;
      this.exchangeChildren.get(`${o.grantType}|${result}`, o.grantType, result).inc();
    }
    if (o.principal && isIngested(o)) this.ingestEvents.labels(o.principal.via).inc();
  };
}

/** GET /metrics in the Prometheus text format (app.ts puts it behind METRICS_TOKEN when one is set). */
export function metricsEndpoint(metrics: Metrics) {
  return async function metricsEndpointMiddleware(ctx: Context): Promise<void> {
    ctx.set('Cache-Control', 'no-store');
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.scrape();
  };
}
