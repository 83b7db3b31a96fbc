import { Counter, Gauge, type Registry } from 'prom-client';
import type { IngestRefusalReason, IngestSink } from './event.js';
import type { PartitionStatus } from './scripts.js';

/** Counts every refused event by reason (backpressure and per-device limits) around a sink. */
export function countingRefusals(sink: IngestSink, registry: Registry): IngestSink {
  const refusals = new Counter({
    name: 'assetgate_ingest_refusals_total',
    help: 'Events refused at /ingestapi: backlog_entries / backlog_bytes (a full partition, 503), device_events / device_bytes (one device over its limits, 429).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const count = (reason: IngestRefusalReason | undefined): void => {
    if (reason) refusals.labels(reason).inc();
  };
  return {
    async append(event) {
      const outcome = await sink.append(event);
      count('refused' in outcome ? outcome.refused : undefined);
      return outcome;
    },
  };
}

/** How long one scrape's partition reads are reused by the other gauges of the same scrape. */
const STATUS_REUSE_MS = 500;

/**
 * Per-partition gauges read from Redis when /metrics is scraped (one script per partition), never
 * on the request path. A Redis that cannot be read leaves them out of that scrape.
 */
export function partitionGauges(registry: Registry, read: () => Promise<PartitionStatus[]>, now: () => number): void {
  let last: { at: number; statuses: Promise<PartitionStatus[]> } | undefined;
  const statuses = (): Promise<PartitionStatus[]> => {
    if (!last || now() - last.at > STATUS_REUSE_MS) last = { at: now(), statuses: read().catch(() => []) };
    return last.statuses;
  };
  const gauge = (name: string, help: string, value: (s: PartitionStatus) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['partition'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const s of await statuses()) {
          const v = value(s);
          if (v !== undefined) this.labels(String(s.partition)).set(v);
        }
      },
    });
  };
  gauge('assetgate_ingest_backlog', 'Unacknowledged events per partition (pending plus never delivered).', (s) => s.backlog);
  gauge('assetgate_ingest_pending', 'Events delivered to a consumer and not yet acknowledged, per partition.', (s) => s.pending);
  gauge('assetgate_ingest_retained_bytes', 'Payload bytes retained per partition (what INGEST_BACKLOG_MAX_BYTES limits).', (s) => s.bytes);
  gauge('assetgate_ingest_dead_letters', 'Events set aside after too many deliveries, per partition.', (s) => s.deadLetters);
  gauge('assetgate_ingest_oldest_unacknowledged_seconds', 'Age of the oldest unacknowledged event per partition; 0 when there is none.', (s) =>
    s.oldestUnacknowledgedAt === undefined ? 0 : Math.max(0, (now() - s.oldestUnacknowledgedAt) / 1000),
  );
}
