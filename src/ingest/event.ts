/** One device event as /ingestapi accepted it. Times in milliseconds since epoch. */
export interface IngestEvent {
  sub: string;
  did?: string;
  aid?: string;
  iss: string;
  receivedAt: number;
  /** The request body, validated JSON text. */
  body: string;
}

/** Backlog and per-device limits (INGEST_BACKLOG_*, INGEST_DEVICE_*); 0 turns a device limit off. */
export interface IngestLimits {
  /** Unacknowledged entries per partition. */
  backlogEntries: number;
  /** Payload bytes retained per partition. */
  backlogBytes: number;
  deviceEvents: number;
  deviceBytes: number;
  deviceWindowMs: number;
}

/** Why an event was not accepted: a full partition (backpressure) or one device over its limits. */
export type IngestRefusalReason = 'backlog_entries' | 'backlog_bytes' | 'device_events' | 'device_bytes';

export interface IngestRefusal {
  refused: IngestRefusalReason;
  /** When a retry may succeed: the end of the device's window; 0 when it depends on the consumers. */
  retryAfterMs: number;
}

/** An accepted event: its stream entry id, unique within its partition (ids of two partitions may be equal). */
export interface Accepted {
  id: string;
  partition: number;
}

export type AppendOutcome = Accepted | IngestRefusal;

/**
 * Where /ingestapi puts events. `append` answers only after the store acknowledged the entry; an
 * accepted entry stays until the consumers acknowledged it.
 */
export interface IngestSink {
  append(event: IngestEvent): Promise<AppendOutcome>;
}

/** The stream fields of an event (also what the byte budget counts: the values' bytes). */
export function eventFields(e: IngestEvent): string[] {
  const fields = ['sub', e.sub, 'iss', e.iss, 'receivedAt', String(e.receivedAt), 'body', e.body];
  if (e.did !== undefined) fields.push('did', e.did);
  if (e.aid !== undefined) fields.push('aid', e.aid);
  return fields;
}
