import { hostname } from 'node:os';
import type { Command, Option } from 'commander';
import Table from 'cli-table3';
import { ConfigError, type StoreConfig } from '../config.js';
import { IngestConsumer, ingestStatus, type DeliveredEvent, type PartitionStatus } from '../ingest/index.js';
import { connectRedis, waitForReady, type RedisConnection } from '../tokens/redis-client.js';

/** What the ingest commands need from the program: output, and the Redis settings as `serve` reads them. */
export interface IngestCommandIo {
  out(text: string): void;
  /** Resolves once the text has left the process: only then is an event acknowledged. */
  outFlushed(text: string): Promise<void>;
  err(text: string): void;
  configOf(opts: { config?: string }): StoreConfig;
  configOption(): Option;
  /** The option parser of whole numbers >= 1. */
  wholeNumber(value: string): number;
  exitCodesHelp: string;
}

async function withRedis<T>(config: StoreConfig, work: (redis: RedisConnection) => Promise<T>): Promise<T> {
  if (!config.redis) throw new ConfigError('REDIS_URL: ingest needs the Redis the server uses (or REDIS_CLUSTER_NODES / REDIS_SENTINELS)');
  // Queue while (re)connecting: a consumer outlives Redis restarts and failovers.
  const redis = connectRedis(config.redis, { enableOfflineQueue: true });
  redis.on('error', () => undefined); // reported by the command that fails
  try {
    await waitForReady(redis, 10_000);
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

/**
 * One JSON line per event. The body is the JSON text the device sent, spliced in as it is (parsing
 * and printing it again could change numbers beyond double precision); line breaks in JSON text
 * can only be whitespace between tokens (RFC 8259 §7: never raw inside strings), so they become spaces.
 */
export function eventLine(e: DeliveredEvent): string {
  const head = JSON.stringify({ id: e.id, partition: e.partition, receivedAt: e.receivedAt, did: e.did ?? null, aid: e.aid ?? null, sub: e.sub, iss: e.iss });
  return `${head.slice(0, -1)},"body":${e.body.replace(/[\r\n]/g, ' ')}}\n`;
}

function statusTable(statuses: PartitionStatus[], now: number): string {
  const table = new Table({
    head: ['partition', 'backlog', 'pending', 'oldest unacked (s)', 'dead letters', 'retained bytes'],
    colAligns: ['right', 'right', 'right', 'right', 'right', 'right'],
    style: { head: [], border: [] },
  });
  const age = (s: PartitionStatus) => (s.oldestUnacknowledgedAt === undefined ? '' : ((now - s.oldestUnacknowledgedAt) / 1000).toFixed(1));
  for (const s of statuses) table.push([s.partition, s.backlog, s.pending, age(s), s.deadLetters, s.bytes]);
  const sum = (f: (s: PartitionStatus) => number) => statuses.reduce((a, s) => a + f(s), 0);
  table.push(['total', sum((s) => s.backlog), sum((s) => s.pending), '', sum((s) => s.deadLetters), sum((s) => s.bytes)]);
  return table.toString();
}

/** `assetgate ingest consume | status`: the events devices posted, from the server's Redis. */
export function addIngestCommands(program: Command, io: IngestCommandIo): void {
  // Through program.command, so the subcommands inherit its output and exit settings.
  const ingest = program.command('ingest').description('read the events devices posted to /ingestapi (same Redis settings as the server)');
  ingest
    .command('consume')
    .description(
      'print each event as one JSON line on stdout (id, partition, receivedAt, did, aid, sub, iss, body) and acknowledge it\n' +
        'once the line is written; at-least-once: an event may be printed again after a crash',
    )
    .addOption(io.configOption())
    .option('--max <n>', 'stop after n events', io.wholeNumber)
    .option('--consumer <name>', 'consumer name, unique per running consumer; a consumer restarted under its name gets back what it held at once (default: host-pid)')
    .option('--claim-idle-ms <ms>', 'take over entries pending this long on another consumer', io.wholeNumber, 60_000)
    .option('--max-deliveries <n>', 'dead-letter an entry delivered this often unacknowledged', io.wholeNumber, 5)
    .addHelpText('after', io.exitCodesHelp)
    .action(async (opts: { config?: string; max?: number; consumer?: string; claimIdleMs: number; maxDeliveries: number }) => {
      const config = io.configOf(opts);
      await withRedis(config, async (redis) => {
        const consumer = new IngestConsumer({
          redis,
          keyPrefix: config.redisKeyPrefix,
          streamName: config.ingest.streamKey,
          consumer: opts.consumer ?? `${hostname()}-${process.pid}`,
          claimIdleMs: opts.claimIdleMs,
          maxDeliveries: opts.maxDeliveries,
          onError: (err) => io.err(`assetgate ingest consume: ${err.message} (retrying)\n`),
          ...(opts.max === undefined ? {} : { limit: opts.max }),
        });
        const stop = () => consumer.stop();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          for await (const event of consumer.events()) {
            await io.outFlushed(eventLine(event));
            await event.ack();
          }
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      });
    });
  ingest
    .command('status')
    .description('backlog, pending, oldest unacknowledged age, dead letters and retained bytes per partition')
    .addOption(io.configOption())
    .option('--json', 'one JSON document instead of the table')
    .addHelpText('after', io.exitCodesHelp)
    .action(async (opts: { config?: string; json?: boolean }) => {
      const config = io.configOf(opts);
      const statuses = await withRedis(config, (redis) => ingestStatus(redis, { keyPrefix: config.redisKeyPrefix, streamName: config.ingest.streamKey }));
      io.out(opts.json ? `${JSON.stringify({ partitions: statuses }, null, 2)}\n` : `${statusTable(statuses, Date.now())}\n`);
    });
}
