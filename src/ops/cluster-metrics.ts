import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * Metrics of WORKERS=N processes as one: each worker holds its own counters, and a scrape lands on
 * whichever worker the kernel hands the connection to. The worker that receives GET /metrics asks
 * the primary, which collects every worker's registry over IPC (prom-client's AggregatorRegistry)
 * and sums them by label set; gauges use their own aggregator (prom-client's process metrics:
 * sum, average, first or max). So consecutive scrapes read totals of the whole instance, and
 * counters only fall when a worker is replaced (Prometheus treats that as a counter reset).
 */

const SCRAPE_REQUEST = 'assetgate:scrape-request';
const SCRAPE_REPLY = 'assetgate:scrape-reply';
/** Longer than prom-client's own 5 s wait for the workers, so its error comes back first. */
const SCRAPE_TIMEOUT_MS = 6000;

interface ScrapeRequest {
  type: typeof SCRAPE_REQUEST;
  id: number;
}
interface ScrapeReply {
  type: typeof SCRAPE_REPLY;
  id: number;
  text?: string;
  error?: string;
}

const isMessage = <T extends { type: string }>(message: unknown, type: T['type']): message is T =>
  typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;

/** In the primary: answer workers' scrape requests with the sum over all workers. */
export function aggregateWorkerMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    if (!isMessage<ScrapeRequest>(message, SCRAPE_REQUEST)) return;
    const reply = (fields: Omit<ScrapeReply, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: SCRAPE_REPLY, id: message.id, ...fields } satisfies ScrapeReply);
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (err: Error) => reply({ error: err.message }),
    );
  });
}

/**
 * In a worker: offer `registry` to the primary's collection and return the scrape that asks the
 * primary for every worker's sum.
 */
export function scrapeAcrossWorkers(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry(); // installs the worker's side of prom-client's collection protocol
  const pending = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    if (!isMessage<ScrapeReply>(message, SCRAPE_REPLY)) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error !== undefined) waiter?.reject(new Error(`metrics of the other workers: ${message.error}`));
    else waiter?.resolve(message.text ?? '');
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = (nextId += 1);
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('metrics of the other workers: no answer from the primary'));
      }, SCRAPE_TIMEOUT_MS);
      pending.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      process.send!({ type: SCRAPE_REQUEST, id } satisfies ScrapeRequest);
    });
}
