import { pino, type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';

/**
 * The access lines gather up to this many characters (about 20 lines; 4 KiB of ASCII) before one
 * write: a write per access line cost a resource check about a quarter of its throughput. A chunk
 * never passes the bound (a line that would take it over goes in the next one): access lines are
 * ASCII, so each write is at most PIPE_BUF (4096 bytes on Linux), which POSIX makes atomic on a
 * pipe. Several workers share one stdout; their lines never interleave mid-line. The
 * access lines wait at most LOG_FLUSH_INTERVAL_MS; every other line (start-up, shutdown, warnings,
 * errors) is written at once, taking the gathered lines with it. Every write is synchronous, so
 * nothing is ever in flight: lines reach stdout in the order they were logged, and on exit
 * (SIGTERM, SIGINT, process.exit) and on an uncaught exception the gathered lines are written
 * before the process ends. (An asynchronous write still in the thread pool when the process
 * exits can land after a later synchronous one, or not at all: that lost and reordered the last
 * lines of a shutdown under load.) A process killed outright (SIGKILL, the kernel's OOM killer, a
 * V8 abort) loses the access lines gathered and not yet written: at most LOG_BUFFER_CHARS, or the
 * last LOG_FLUSH_INTERVAL_MS of them. A stdout that stops reading holds the server back at its
 * next write instead of growing a buffer without bound.
 */
export const LOG_BUFFER_CHARS = 4096;
export const LOG_FLUSH_INTERVAL_MS = 1000;

/**
 * JSON logs. Nothing on the request path logs headers, bodies or query strings; the redaction list
 * is a second line of defence should anything ever pass them in.
 */
const REDACT: LoggerOptions['redact'] = {
  paths: [
    'req.headers.authorization',
    'req.headers.dpop',
    'headers.authorization',
    'authorization',
    'access_token',
    'assertion',
    'subject_token',
    'client_secret',
    'token',
    '*.access_token',
    '*.assertion',
    '*.subject_token',
    '*.client_secret',
    '*.token',
    'clientSecret',
    '*.clientSecret',
    'password',
    '*.password',
    'metricsToken',
    'req.headers.cookie',
  ],
  censor: '[redacted]',
};

const unredacted = (level: string): LoggerOptions => ({ level, base: { service: 'assetgate' } });
const redacted = (level: string): LoggerOptions => ({ ...unredacted(level), redact: REDACT });

/** A logger writing each line to `destination` (tests, tools), or synchronously to stdout. */
export function createLogger(level: string, destination?: NodeJS.WritableStream, format: { pretty?: boolean } = {}): Logger {
  const options = redacted(level);
  if (format.pretty) {
    // Same fields (request id included), same redaction; only the rendering differs.
    return pino(options, pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', destination: destination ?? 1 }));
  }
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}

const accessLoggers = new WeakMap<Logger, Logger>();

/**
 * The logger of the access line, the one line per request. Its fields are fixed (request id,
 * method, route, status, time, error code) and can hold nothing the redaction list names, so it
 * goes without redaction: pino's pass over the list (wildcards included) was more than half of
 * the line's cost.
 */
export function accessLoggerOf(logger: Logger): Logger {
  let access = accessLoggers.get(logger);
  if (!access) {
    access = logger.child({}, { redact: [] });
    accessLoggers.set(logger, access);
  }
  return access;
}

/**
 * The access lines on their way to stdout: kept as a list of strings and handed on joined, one
 * write per LOG_BUFFER_CHARS. sonic-boom, gathering lines itself, appends each to one growing string
 * and measures that whole string's UTF-8 length again on every write (its maxWrite check): work that
 * grows with the buffer, paid per line. Counted here in UTF-16 units (a line of non-ASCII text
 * holds up to three times as many bytes: the bound is on characters, the write stays one).
 */
export class AccessLines {
  private lines: string[] = [];
  private chars = 0;

  constructor(
    private readonly out: { write(text: string): void },
    private readonly limit: number,
  ) {}

  write(line: string): void {
    if (this.chars + line.length > this.limit) this.handOn();
    this.lines.push(line);
    this.chars += line.length;
  }

  /** Everything gathered goes to stdout's stream, in order, as one string. */
  handOn(): void {
    if (this.lines.length === 0) return;
    const text = this.lines.length === 1 ? this.lines[0]! : this.lines.join('');
    this.lines = [];
    this.chars = 0;
    this.out.write(text);
  }
}

/**
 * The server process's logger: JSON lines to stdout, the access lines gathered (see
 * LOG_BUFFER_CHARS for when lines reach stdout and what a crash can lose). Pretty lines for a
 * person at a terminal stay synchronous.
 */
export function createProcessLogger(level: string, format: { pretty?: boolean } = {}): Logger {
  if (format.pretty) return createLogger(level, undefined, format);
  // Synchronous writes (see LOG_BUFFER_CHARS): the access lines in LOG_BUFFER_CHARS chunks
  // (AccessLines), one write shared by about 20 requests; every other line on its own.
  const stdout = pino.destination({ dest: 1, sync: true });
  const access = new AccessLines(stdout, LOG_BUFFER_CHARS);
  const flushInterval = setInterval(() => access.handOn(), LOG_FLUSH_INTERVAL_MS);
  flushInterval.unref();
  // Every other line is written at once, after the access lines gathered before it (their order).
  const promptly: pino.DestinationStream & { flush(cb: (err?: Error) => void): void } = {
    write(line: string) {
      access.handOn();
      stdout.write(line);
    },
    flush(cb) {
      access.handOn();
      stdout.flush(cb);
    },
  };
  const logger = pino(redacted(level), promptly);
  // The access lines only are left to gather; without redaction, as accessLoggerOf explains.
  accessLoggers.set(logger, pino(unredacted(level), access));
  // On exit (SIGTERM and SIGINT end through process.exit) the gathered lines are written out; the
  // writes being synchronous, stdout itself holds nothing back.
  const writeOutNow = (): void => access.handOn();
  process.once('exit', writeOutNow);
  // An uncaught exception (or unhandled rejection): the fatal line and everything gathered are
  // written before Node prints the error and exits; the monitor changes nothing else.
  process.on('uncaughtExceptionMonitor', (err, origin) => {
    logger.fatal({ err: { message: err instanceof Error ? err.message : String(err) }, origin }, 'uncaught exception: exiting');
    writeOutNow();
  });
  return logger;
}

/**
 * Ends the process once the lines logged so far, the gathered access lines included, are written:
 * every write is synchronous, so once the flush has handed them on nothing is left in flight.
 */
export function exitWhenWritten(logger: Logger, code: number): void {
  logger.flush();
  process.exit(code);
}
