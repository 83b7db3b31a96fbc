import { KeyObject, sign as nodeSign } from 'node:crypto';
import { connect } from 'node:net';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { expect } from '@jest/globals';
import type { CryptoKey } from 'jose';

/** base64url of raw bytes or text, exactly as given (for hand-made JOSE segments). */
export const b64u = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

/**
 * A compact JWS over header and payload given as raw JSON *text* (so duplicate members, odd
 * numbers or invalid UTF-8 survive), validly signed RS256 with the issuer's own private key: a
 * rejection can then only come from the content, never from the signature.
 */
export function signRawJws(headerText: string | Buffer, payloadText: string | Buffer, privateKey: CryptoKey): string {
  const input = `${b64u(headerText)}.${b64u(payloadText)}`;
  const signature = nodeSign('sha256', Buffer.from(input), KeyObject.from(privateKey));
  return `${input}.${signature.toString('base64url')}`;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  json: Record<string, unknown>;
  raw: string;
}

/** Parses one HTTP/1.1 response from raw text (Content-Length bodies only, which is all we send). */
export function parseRawResponse(raw: string): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  const head = end === -1 ? raw : raw.slice(0, end);
  const body = end === -1 ? '' : raw.slice(end + 4);
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(body) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0), headers, body, json, raw };
}

/**
 * Sends bytes as they are over one TCP connection (what fetch refuses to send: bad header bytes,
 * lying Content-Length, slow bodies). `parts` are written in order with `gapMs` between them.
 */
export function rawRequest(url: string, parts: Array<string | Buffer>, gapMs = 0): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let stopped = false;
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', (err) => {
      if (chunks.length > 0) return; // a reset after the answer still counts as the answer
      stopped = true;
      reject(err);
    });
    socket.on('close', () => {
      stopped = true;
      resolve(parseRawResponse(Buffer.concat(chunks).toString('utf8')));
    });
    socket.on('connect', async () => {
      for (const part of parts) {
        if (stopped || socket.destroyed) return;
        socket.write(part);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
    socket.setTimeout(20_000, () => socket.destroy());
  });
}

/** A request head for rawRequest (Connection: close so the answer ends the exchange). */
export function rawHead(method: string, path: string, headers: Record<string, string | number>): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * Fail closed, RFC-shaped: a 4xx (never 200, never 5xx) with a JSON body naming an OAuth error
 * code, no stack trace, no internals.
 */
export function expectFailClosed(
  res: { status: number; json: Record<string, unknown>; text?: string; body?: string; headers: Headers | Record<string, string> },
  status: number | number[],
  code?: string,
): void {
  const statuses = Array.isArray(status) ? status : [status];
  expect(statuses).toContain(res.status);
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  const text = res.text ?? res.body ?? '';
  if (res.status !== 401 || text !== '') {
    expect(typeof res.json.error).toBe('string');
    if (code) expect(res.json.error).toBe(code);
    const contentType = res.headers instanceof Headers ? res.headers.get('content-type') : res.headers['content-type'];
    expect(contentType).toMatch(/^application\/json/);
  }
  expect(text).not.toMatch(/\bat .*\.(js|ts):\d+|Error:|node_modules|\/src\//);
}

/** An attacker's web server: counts every request it receives (it must receive none). */
export class AttackerServer {
  requests: string[] = [];
  private server: Server | undefined;
  url = '';

  static async start(): Promise<AttackerServer> {
    const a = new AttackerServer();
    a.server = createServer((req, res) => {
      a.requests.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
    });
    await new Promise<void>((r) => a.server!.listen(0, '127.0.0.1', r));
    a.url = `http://127.0.0.1:${(a.server.address() as { port: number }).port}`;
    return a;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

/**
 * One HTTP request from a chosen loopback source address (127.0.0.0/8 is all loopback on Linux):
 * how tests play several clients with distinct IPs.
 */
export function requestFrom(
  localAddress: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string>; json: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          /* not JSON */
        }
        const headers = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)]));
        resolve({ status: res.statusCode ?? 0, headers, json, text });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

export const formFrom = (localAddress: string, url: string, fields: Record<string, string>) =>
  requestFrom(localAddress, url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
