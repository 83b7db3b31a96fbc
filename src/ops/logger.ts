import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

/**
 * JSON logs. Nothing on the request path logs headers, bodies or query strings; the redaction list
 * is a second line of defence should anything ever pass them in.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream, format: { pretty?: boolean } = {}): Logger {
  const options = {
    level,
    base: { service: 'assetgate' },
    redact: {
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
    },
  };
  if (format.pretty) {
    // Same fields (request id included), same redaction; only the rendering differs.
    return pino(options, pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', destination: destination ?? 1 }));
  }
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}
