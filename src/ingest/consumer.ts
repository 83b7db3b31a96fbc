import type { Cluster, Redis } from 'ioredis';
import type { IngestEvent } from './event.js';
import type { IngestLayout} from './partitions.js';
import { INGEST_CONSUMER_GROUP, type PartitionKeys } from './partitions.js';
import { openLayout, withIngestScripts, type IngestScripts } from './scripts.js';

/** One event as a consumer receives it; `ack()` after it was handled, or it is delivered again. */
export interface DeliveredEvent extends IngestEvent {
  /** The stream entry id (unique within its partition; the id /ingestapi answered). */
  id: string;
  partition: number;
  /** How many times the group has delivered it, this time included: 1 on first delivery (at least 2 for an entry taken back after a restart). */
  deliveries: number;
  ack(): Promise<void>;
}

export interface IngestConsumerOptions {
  /** A connection to assetgate's Redis (standalone, Sentinel or Cluster). */
  redis: Redis | Cluster;
  /** Consumer name, unique per running consumer (e.g. host and pid): what it holds pending is claimed by name. */
  consumer: string;
  /** assetgate's REDIS_KEY_PREFIX. Default "ag:". */
  keyPrefix?: string;
  /** assetgate's INGEST_STREAM_KEY. Default "ingest". */
  streamName?: string;
  /** Entries read per partition and call. Default 100. */
  batchSize?: number;
  /** Pause after a round in which no partition had anything. Default 200 ms. */
  idleWaitMs?: number;
  /** An entry pending this long on any consumer is taken over (XAUTOCLAIM): its consumer is presumed dead. Default 60 s. */
  claimIdleMs?: number;
  /** After this many deliveries without an acknowledgement an entry goes to the dead-letter stream. Default 5. */
  maxDeliveries?: number;
  /** Stop after this many events, reading no more than that (what is read and not handled stays pending on this name). */
  limit?: number;
  /** Told of a Redis error; the consumer waits and tries again. */
  onError?: (err: Error) => void;
}

type StreamEntry = [id: string, fields: string[] | null];

const fieldsOf = (flat: string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
};

/**
 * At-least-once consumer of assetgate's ingest partitions, as an async iterator:
 *
 *     const consumer = new IngestConsumer({ redis, consumer: `${hostname()}-${process.pid}` });
 *     for await (const event of consumer.events()) { await handle(event); await event.ack(); }
 *
 * Every partition is read through the consumer group in turn (a Cluster holds them on several
 * masters, so one multi-stream read cannot serve them). On start it first takes back what it held
 * pending under the same name; entries pending on a consumer idle longer than `claimIdleMs` are
 * claimed with XAUTOCLAIM; an entry delivered `maxDeliveries` times unacknowledged is copied to the
 * partition's dead-letter stream and acknowledged. Acknowledged entries are trimmed from the stream.
 * Imports nothing of the server: embeddable in any Node service.
 */
export class IngestConsumer {
  private readonly redis: IngestScripts;
  private readonly batchSize: number;
  private remaining: number;
  private readonly idleWaitMs: number;
  private readonly claimIdleMs: number;
  private readonly maxDeliveries: number;
  private stopped = false;
  private wake: (() => void) | undefined;
  /** Partitions with acknowledgements since their last trim. */
  private readonly acked = new Set<PartitionKeys>();
  private layout: IngestLayout | undefined;

  constructor(private readonly options: IngestConsumerOptions) {
    this.redis = withIngestScripts(options.redis);
    this.batchSize = options.batchSize ?? 100;
    this.remaining = options.limit ?? Number.POSITIVE_INFINITY;
    this.idleWaitMs = options.idleWaitMs ?? 200;
    this.claimIdleMs = options.claimIdleMs ?? 60_000;
    this.maxDeliveries = options.maxDeliveries ?? 5;
  }

  /** Entries to read in one call: a batch, or what is left of the limit. */
  private get batch(): number {
    return Math.min(this.batchSize, this.remaining);
  }

  /** Ends the iteration after the event being handled; what was not acknowledged is delivered again later. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  async *events(): AsyncGenerator<DeliveredEvent, void, undefined> {
    this.layout ??= await openLayout(this.redis, this.options.keyPrefix, this.options.streamName);
    const partitions = this.layout.partitions;
    // What this consumer name held when it stopped (or died) comes first: its pending entries, paged by id.
    const history = new Map<PartitionKeys, string>(partitions.map((p) => [p, '0']));
    try {
      yield* this.rounds(partitions, history);
    } finally {
      for (const p of [...this.acked]) await this.trimIfAcked(p).catch((err: Error) => this.options.onError?.(err));
    }
  }

  private async *rounds(partitions: readonly PartitionKeys[], history: Map<PartitionKeys, string>): AsyncGenerator<DeliveredEvent, void, undefined> {
    const lastClaim = new Map<PartitionKeys, number>();
    while (!this.stopped) {
      let delivered = 0;
      for (const p of partitions) {
        if (this.stopped) break;
        let entries: Array<{ entry: StreamEntry; deliveries: number }>;
        try {
          await this.trimIfAcked(p);
          entries = [];
          const after = history.get(p);
          if (after !== undefined) {
            const own = await this.read(p, after);
            if (own.length < this.batch) history.delete(p);
            else history.set(p, own.at(-1)![0]);
            // Delivered before at least once; Redis keeps the exact count in the PEL (XPENDING).
            entries.push(...own.map((entry) => ({ entry, deliveries: 2 })));
          }
          if (Date.now() - (lastClaim.get(p) ?? 0) >= Math.min(this.claimIdleMs, 5000)) {
            lastClaim.set(p, Date.now());
            entries.push(...(await this.reclaim(p)));
          }
          if (entries.length === 0) entries = (await this.read(p, '>')).map((entry) => ({ entry, deliveries: 1 }));
        } catch (err) {
          this.options.onError?.(err as Error);
          await this.pause(this.idleWaitMs * 5);
          continue;
        }
        for (const { entry, deliveries } of entries) {
          const event = this.delivered(p, entry, deliveries);
          if (!event) {
            // Deleted while pending: nothing left to deliver, only the pending mark to clear.
            await this.ack(p, entry[0]).catch((err: Error) => this.options.onError?.(err));
            continue;
          }
          delivered += 1;
          this.remaining -= 1;
          if (this.remaining <= 0) this.stopped = true;
          yield event;
          if (this.stopped) break;
        }
      }
      if (delivered === 0) await this.pause(this.idleWaitMs);
    }
  }

  /** `>`: entries never delivered; an id: this consumer's own pending entries after it. */
  private async read(p: PartitionKeys, from: string): Promise<StreamEntry[]> {
    const reply = (await this.redis.xreadgroup('GROUP', INGEST_CONSUMER_GROUP, this.options.consumer, 'COUNT', this.batch, 'STREAMS', p.stream, from)) as
      | Array<[string, StreamEntry[]]>
      | null;
    return reply?.[0]?.[1] ?? [];
  }

  /** Dead-letters the entries delivered too often, then claims the other idle ones. */
  private async reclaim(p: PartitionKeys): Promise<Array<{ entry: StreamEntry; deliveries: number }>> {
    const idle = (await this.redis.xpending(p.stream, INGEST_CONSUMER_GROUP, 'IDLE', this.claimIdleMs, '-', '+', this.batch)) as Array<[string, string, number, number]>;
    if (idle.length === 0) return [];
    const deliveries = new Map<string, number>();
    for (const [id, , , count] of idle) {
      if (count >= this.maxDeliveries) await this.redis.agIngestDeadLetter(p.stream, p.deadLetters, INGEST_CONSUMER_GROUP, id, String(count));
      else deliveries.set(id, count + 1);
    }
    if (deliveries.size < idle.length) this.acked.add(p);
    if (deliveries.size === 0) return [];
    const [, claimed] = (await this.redis.xautoclaim(p.stream, INGEST_CONSUMER_GROUP, this.options.consumer, this.claimIdleMs, '0-0', 'COUNT', this.batch)) as [
      string,
      StreamEntry[],
    ];
    return claimed.map((entry) => ({ entry, deliveries: deliveries.get(entry[0]) ?? 2 }));
  }

  private delivered(p: PartitionKeys, [id, flat]: StreamEntry, deliveries: number): DeliveredEvent | undefined {
    if (!flat) return undefined;
    const f = fieldsOf(flat);
    const event: DeliveredEvent = {
      id,
      partition: p.index,
      deliveries,
      sub: f.sub ?? '',
      iss: f.iss ?? '',
      receivedAt: Number(f.receivedAt),
      body: f.body ?? '',
      ack: () => this.ack(p, id),
    };
    if (f.did !== undefined) event.did = f.did;
    if (f.aid !== undefined) event.aid = f.aid;
    return event;
  }

  private async ack(p: PartitionKeys, id: string): Promise<void> {
    await this.redis.xack(p.stream, INGEST_CONSUMER_GROUP, id);
    this.acked.add(p);
  }

  /** Acknowledged entries leave the stream (and the byte budget) on the consumer's next visit. */
  private async trimIfAcked(p: PartitionKeys): Promise<void> {
    if (!this.acked.delete(p)) return;
    await this.redis.agIngestTrim(p.stream, p.bytes, p.sizes, INGEST_CONSUMER_GROUP);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
