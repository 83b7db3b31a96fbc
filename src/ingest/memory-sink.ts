import type { Clock } from '../clock.js';
import type { AppendOutcome, IngestEvent, IngestSink } from './event.js';

/**
 * The embedded development sink: events kept in process memory, the oldest dropped past `maxEvents`
 * (there are no consumers in development; nothing survives a restart). Never used in production.
 */
export class MemoryIngestSink implements IngestSink {
  readonly events: Array<{ id: string; event: IngestEvent }> = [];
  private lastId = 0;
  private lastSeq = 0;

  constructor(
    private readonly clock: Clock,
    private readonly maxEvents = 10_000,
  ) {}

  /** Stream ids shaped like Redis's: `<ms>-<seq>`, increasing. */
  async append(event: IngestEvent): Promise<AppendOutcome> {
    const now = this.clock.now();
    if (now > this.lastId) {
      this.lastId = now;
      this.lastSeq = 0;
    } else {
      this.lastSeq += 1;
    }
    const id = `${this.lastId}-${this.lastSeq}`;
    this.events.push({ id, event });
    if (this.events.length > this.maxEvents) this.events.splice(0, this.events.length - this.maxEvents);
    return { id, partition: 0 };
  }
}
