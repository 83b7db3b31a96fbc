import { hash } from 'node:crypto';
import { shortDigest } from '../tokens/keys.js';

/**
 * The ingest keyspace: INGEST_PARTITIONS streams, each with its own Redis Cluster hash tag, so ingest
 * grows with the Cluster's masters instead of landing on the one that holds a single stream key.
 * Every key of one partition shares its tag (one slot), so admission, append, trimming and
 * dead-lettering are each one atomic script on one master:
 *
 *   <prefix><name>:{<tag>}              the partition's stream, consumer group GROUP
 *   <prefix><name>:{<tag>}:bytes        payload bytes retained in the stream (the byte budget)
 *   <prefix><name>:{<tag>}:sizes        list: each retained entry's payload bytes, in stream order
 *   <prefix><name>:{<tag>}:dl           dead letters: entries delivered MAX_DELIVERIES times unacknowledged
 *   <prefix><name>:{<tag>}:d:<h(dev)>   one device's ingest in the current window (hash n, b; TTL = window)
 *   <prefix><name>:partitions           how many partitions the keyspace was set up with
 *
 * This module is shared by the server and the consumer library: it imports nothing of the server.
 */
export const INGEST_CONSUMER_GROUP = 'ingest-workers';
export const DEFAULT_INGEST_PARTITIONS = 16;
export const MAX_INGEST_PARTITIONS = 1024;

const CLUSTER_SLOTS = 16384;

/** CRC16-XMODEM, the Redis Cluster key-slot hash (Redis Cluster spec, "Keys distribution model"). */
function crc16(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

export const slotOf = (hashTag: string): number => crc16(hashTag) % CLUSTER_SLOTS;

/**
 * Partition i's hash tag: the first `p<i>.<j>` whose slot lies in the i-th of `count` equal slices
 * of the slot space. A Cluster's masters own contiguous slot ranges (redis-cli --cluster create
 * splits them evenly), so evenly spaced slots put about count/masters partitions on every master,
 * where random tags could leave a master without any.
 */
export function partitionTag(index: number, count: number): string {
  const from = Math.floor((index * CLUSTER_SLOTS) / count);
  const to = Math.floor(((index + 1) * CLUSTER_SLOTS) / count);
  for (let j = 0; ; j++) {
    const tag = `p${index}.${j}`;
    const slot = slotOf(tag);
    if (slot >= from && slot < to) return tag;
  }
}

export interface PartitionKeys {
  index: number;
  stream: string;
  bytes: string;
  sizes: string;
  deadLetters: string;
  /** The key of one device's ingest window (a hash, in the partition's slot). */
  deviceWindow(device: string): string;
}

/** The partitions of one keyspace: their keys, and which one a device's events go to. */
export class IngestLayout {
  readonly partitions: readonly PartitionKeys[];
  readonly layoutKey: string;
  /** The single stream of keyspaces before partitioning (migration 3 moves its entries). */
  readonly legacyStream: string;

  constructor(
    keyPrefix: string,
    streamName: string,
    readonly count: number,
  ) {
    const base = `${keyPrefix}${streamName}`;
    this.layoutKey = `${base}:partitions`;
    this.legacyStream = base;
    this.partitions = Array.from({ length: count }, (_, index) => {
      const stream = `${base}:{${partitionTag(index, count)}}`;
      return {
        index,
        stream,
        bytes: `${stream}:bytes`,
        sizes: `${stream}:sizes`,
        deadLetters: `${stream}:dl`,
        deviceWindow: (device: string) => `${stream}:d:${shortDigest(device)}`,
      };
    });
  }

  /**
   * A device is its issuer and its id (two issuers may use the same device id): all its events go
   * to one partition, so a consumer sees them in the order they were accepted.
   */
  partitionOf(device: string): PartitionKeys {
    const h = Number.parseInt(hash('sha256', device, 'hex').slice(0, 8), 16);
    return this.partitions[h % this.count]!;
  }
}

/** One device's identity for partitioning and per-device limits: issuer and subject. */
export const deviceIdentity = (iss: string, sub: string): string => `${iss}\n${sub}`;

/** Stream ids are `<ms>-<seq>`: the time part, for ages. */
export const idTime = (id: string): number => Number(id.slice(0, id.indexOf('-')));
