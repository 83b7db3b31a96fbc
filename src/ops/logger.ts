import { pino, type Logger } from 'pino';

/**
 * JSON logs. Nothing on the request path logs headers, bodies or query strings; the redaction list
 * is a second line of defence should anything ever pass them in.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
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
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}
