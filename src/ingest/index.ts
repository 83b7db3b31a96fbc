import type { Cluster, Redis } from 'ioredis';
import { INGEST_CONSUMER_GROUP } from './partitions.js';
import { layoutStatus, openLayout, withIngestScripts, type PartitionStatus } from './scripts.js';

/**
 * `assetgate/ingest`: read the events devices post to /ingestapi from Node services. Imports nothing
 * of the server process (no configuration, logging or migrations), like `assetgate/guard`.
 */
export { IngestConsumer, type DeliveredEvent, type IngestConsumerOptions } from './consumer.js';
export type { IngestEvent } from './event.js';
export type { PartitionStatus } from './scripts.js';
export { INGEST_CONSUMER_GROUP } from './partitions.js';

/** Backlog, pending, oldest unacknowledged entry and dead letters of every partition. */
export async function ingestStatus(redis: Redis | Cluster, options: { keyPrefix?: string; streamName?: string } = {}): Promise<PartitionStatus[]> {
  return layoutStatus(withIngestScripts(redis), await openLayout(redis, options.keyPrefix, options.streamName), INGEST_CONSUMER_GROUP);
}
