import type { Cluster, Redis } from 'ioredis';
import { StoreUnavailableError } from '../tokens/store.js';
import { eventFields, type AppendOutcome, type IngestEvent, type IngestRefusal, type IngestLimits, type IngestRefusalReason, type IngestSink } from './event.js';
import { deviceIdentity, INGEST_CONSUMER_GROUP, IngestLayout, type PartitionKeys } from './partitions.js';
import { layoutStatus, storedPartitionCount, withIngestScripts, type IngestScripts, type PartitionStatus } from './scripts.js';

/** Devices whose keys are remembered (about 250 bytes each); the map starts over when full. */
const REMEMBERED_DEVICES = 4096;

/** Where one device's events go: its partition and its window key. */
interface DeviceKeys {
  partition: PartitionKeys;
  window: string;
}

const REFUSALS: Record<number, IngestRefusalReason> = { 1: 'backlog_entries', 2: 'backlog_bytes', 3: 'device_events', 4: 'device_bytes' };

async function guarded<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw new StoreUnavailableError(`redis ${what} failed: ${(err as Error).message}`);
  }
}

/**
 * The partitioned ingest streams. One script per event does the admission (the device's window,
 * the partition's backlog in entries and bytes) and the append, on the partition's master.
 */
export class RedisIngestSink implements IngestSink {
  private readonly redis: IngestScripts;
  private readonly limitArgs: string[];
  /**
   * A device's partition and window key take two sha256 of its identity; a device sends many
   * events, so they are remembered rather than hashed again for each one. Starting over when full
   * costs a hash per device again, never a wrong key: the keys are a pure function of the identity.
   */
  private readonly devices = new Map<string, DeviceKeys>();

  private constructor(
    redis: Redis | Cluster,
    readonly layout: IngestLayout,
    limits: IngestLimits,
  ) {
    this.redis = withIngestScripts(redis);
    this.limitArgs = [INGEST_CONSUMER_GROUP, String(limits.backlogEntries), String(limits.backlogBytes), String(limits.deviceEvents), String(limits.deviceBytes), String(limits.deviceWindowMs)];
  }

  /** Refuses a keyspace set up with another partition count: devices would change partitions and lose their order. */
  static async open(redis: Redis | Cluster, settings: { keyPrefix: string; streamName: string; partitions: number; limits: IngestLimits }): Promise<RedisIngestSink> {
    const stored = await storedPartitionCount(redis, settings.keyPrefix, settings.streamName);
    if (stored === undefined) throw new Error('the ingest partitions are not set up: run `assetgate migrate`');
    if (stored !== settings.partitions) {
      throw new Error(`INGEST_PARTITIONS is ${settings.partitions} but the keyspace was set up with ${stored} partitions: set INGEST_PARTITIONS=${stored}`);
    }
    return new RedisIngestSink(redis, new IngestLayout(settings.keyPrefix, settings.streamName, stored), settings.limits);
  }

  private keysOf(event: IngestEvent): DeviceKeys {
    const device = deviceIdentity(event.iss, event.sub);
    let keys = this.devices.get(device);
    if (keys === undefined) {
      if (this.devices.size >= REMEMBERED_DEVICES) this.devices.clear();
      const partition = this.layout.partitionOf(device);
      keys = { partition, window: partition.deviceWindow(device) };
      this.devices.set(device, keys);
    }
    return keys;
  }

  /** Every partition's backlog (metrics at scrape time). */
  status(): Promise<PartitionStatus[]> {
    return layoutStatus(this.redis, this.layout, INGEST_CONSUMER_GROUP);
  }

  async append(event: IngestEvent): Promise<AppendOutcome> {
    const keys = this.keysOf(event);
    const p = keys.partition;
    const reply = await guarded('ingest', () => this.redis.agIngestAppend(p.stream, p.bytes, p.sizes, keys.window, ...this.limitArgs, ...eventFields(event)));
    if (Array.isArray(reply)) return refusalOf(reply);
    if (typeof reply !== 'string' || reply === '') throw new StoreUnavailableError('ingest append returned no id');
    return { id: reply, partition: p.index };
  }
}

function refusalOf(reply: Array<string | number>): IngestRefusal {
  const reason = REFUSALS[Number(reply[0])];
  if (!reason) throw new StoreUnavailableError(`unexpected ingest reply ${String(reply[0])}`);
  return { refused: reason, retryAfterMs: Number(reply[1] ?? 0) };
}
