import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import Koa from 'koa';
import { OAuthError } from '../../src/oauth/errors.js';
import { bodyMediaType, readBody } from '../../src/oauth/form.js';

/** A koa app that answers with what readBody and bodyMediaType made of the request (the lean reader: no decoder stream, at most one Buffer.concat). */
describe('readBody / bodyMediaType', () => {
  let server: Server;
  let port: number;
  const outcomes: Array<{ status?: number; text?: string; type: string }> = [];

  beforeAll(async () => {
    const app = new Koa();
    app.use(async (ctx) => {
      const type = bodyMediaType(ctx);
      try {
        const text = await readBody(ctx, 64);
        outcomes.push({ text, type });
        ctx.body = { text, type };
      } catch (err) {
        const status = err instanceof OAuthError ? err.status : 500;
        outcomes.push({ status, type });
        ctx.status = status;
        ctx.body = { status };
      }
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** Sends raw bytes in separate writes, returns the raw response (or '' when the socket is cut). */
  function raw(parts: Array<string | Buffer>, end = true): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let response = '';
      socket.on('data', (d) => (response += d.toString()));
      socket.on('close', () => resolve(response));
      socket.on('error', () => resolve(response));
      socket.on('connect', async () => {
        for (const p of parts) {
          socket.write(p);
          await new Promise((r) => setTimeout(r, 20));
        }
        if (end) socket.end();
        else socket.destroy();
      });
    });
  }

  it('decodes UTF-8 split across chunks, and reads the media type without parameters, case-insensitively', async () => {
    const body = Buffer.from('a=\u00e9\u20ac', 'utf8'); // é and € are multi-byte
    const res = await raw([
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: Application/X-WWW-Form-URLEncoded ; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      body.subarray(0, 3), // cuts é in half
      body.subarray(3, 5), // cuts € after its first byte
      body.subarray(5),
    ]);
    expect(res).toContain('200 OK');
    expect(JSON.parse(res.slice(res.indexOf('\r\n\r\n') + 4))).toEqual({ text: 'a=\u00e9\u20ac', type: 'application/x-www-form-urlencoded' });
  });

  it('413 for a declared length over the limit and for a chunked body that grows over it', async () => {
    const declared = await raw([`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 65\r\nConnection: close\r\n\r\n`]);
    expect(declared).toContain('413');
    const chunk = 'x'.repeat(40);
    const chunked = await raw([
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
      `${chunk.length.toString(16)}\r\n${chunk}\r\n`,
      `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`,
    ]);
    expect(chunked).toContain('413');
  });

  it('a client that stops half-way is a 400 to the reader, not a hang and not a 500', async () => {
    const before = outcomes.length;
    await raw([`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 40\r\n\r\n`, 'only part'], false);
    await new Promise((r) => setTimeout(r, 100));
    expect(outcomes.slice(before)).toEqual([{ status: 400, type: 'text/plain' }]);
  });

  it('no body at all (neither Content-Length nor Transfer-Encoding) has no media type', async () => {
    const res = await raw([`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n`]);
    expect(JSON.parse(res.slice(res.indexOf('\r\n\r\n') + 4))).toEqual({ text: '', type: '' });
  });
});
