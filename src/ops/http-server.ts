import { createServer, type IncomingMessage, type RequestListener, type ServerResponse, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

export interface HttpLimits {
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderBytes: number;
}

/** What Node's HTTP parser reports about a request it refused, as the client will see it. */
function clientErrorStatus(code: string | undefined): [number, string] {
  if (code === 'HPE_HEADER_OVERFLOW') return [431, 'request headers are too large'];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'ERR_HTTP_HEADERS_TIMEOUT') return [408, 'request was not received in time'];
  return [400, 'request is not valid HTTP'];
}

const openResponses = new WeakMap<Server, Set<ServerResponse>>();

/**
 * Graceful stop: no new connections; requests in flight finish, and their answers (like every
 * later one) close the connection, so keep-alive clients cannot hold the process open.
 */
export function closeGracefully(server: Server, done: () => void): void {
  server.close(() => done());
  for (const res of openResponses.get(server) ?? []) {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  }
  server.closeIdleConnections();
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/**
 * The HTTP server with the limits that protect it before any middleware runs: slow headers and
 * slow bodies (slowloris) are cut off, header sections are bounded, and what Node's parser refuses
 * is still answered with an RFC 6749 §5.2-shaped JSON error (never a bare status line, never the
 * parser's message).
 */
export function createHttpServer(limits: HttpLimits, listener?: RequestListener): Server {
  const server = createServer(
    {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      // How often Node looks for timed-out requests; by default only every 30 s.
      connectionsCheckingInterval: Math.max(250, Math.min(30_000, Math.floor(limits.requestTimeoutMs / 4))),
    },
    listener,
  );
  // Once close() has been called, every answer closes its connection: keep-alive clients that
  // keep sending would otherwise hold a draining server open until the grace period runs out.
  const pending = new Set<ServerResponse>();
  openResponses.set(server, pending);
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    if (!server.listening) {
      res.setHeader('Connection', 'close');
      return;
    }
    pending.add(res);
    res.once('close', () => pending.delete(res));
  });
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    // A response already under way cannot be replaced; a closed socket cannot be answered.
    const inProgress = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inProgress?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, description] = clientErrorStatus(err.code);
    const body = JSON.stringify({ error: 'invalid_request', error_description: description });
    socket.end(
      `HTTP/1.1 ${status} ${REASONS[status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Cache-Control: no-store\r\n' +
        'X-Content-Type-Options: nosniff\r\n' +
        'Connection: close\r\n\r\n' +
        body,
    );
  });
  return server;
}
