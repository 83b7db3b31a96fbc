import type { AddressInfo } from 'node:net';
import { request } from 'node:http';
import Router from '@koa/router';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Koa, { type Middleware } from 'koa';
import compose from 'koa-compose';
import { RouteTable } from '../../src/route-table.js';

/**
 * The route table dispatches exact paths itself and leaves the rest to @koa/router: a request must
 * get the same answer either way. Two servers with the same routes, one through the table and one
 * through the router alone, asked the same requests (exact paths, HEAD, other letter case, a
 * trailing slash, a parameter route, unknown paths and methods), side by side.
 */

type Served = { url: string; close: () => Promise<void> };

async function serve(app: Koa): Promise<Served> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * Tells which route answered (state.route) and its path parameters (a fixed path has none: the
 * router gives it `{}`, the table nothing).
 */
const answer =
  (name: string): Middleware =>
  (ctx) => {
    const params = (ctx.params ?? {}) as Record<string, string>;
    ctx.body = { name, route: ctx.state.route ?? null, params: Object.keys(params).length > 0 ? params : null };
  };
const tagRoute =
  (path: string): Middleware =>
  (ctx, next) => {
    ctx.state.route = path;
    return next();
  };
const first: Middleware = (ctx, next) => {
  ctx.set('X-First', 'ran');
  return next();
};

const ROUTES: Array<[method: 'GET' | 'POST', path: string, middleware: Middleware[]]> = [
  ['GET', '/resource', [first, answer('resource')]],
  ['POST', '/ingestapi', [first, answer('ingest')]],
  ['POST', '/oauth2/token', [answer('token')]],
  ['GET', '/.well-known/oauth-authorization-server', [answer('metadata')]],
  ['POST', '/admin/devices/:did/revoke', [answer('admin')]],
];

/** What both apps share: a 404/405 body like the server's error renderer writes. */
const renderMisses: Middleware = async (ctx, next) => {
  await next();
  if (ctx.body === undefined) ctx.body = { status: ctx.status, allow: ctx.response.get('Allow') };
};

let viaTable: Served;
let viaRouter: Served;

beforeAll(async () => {
  const table = new RouteTable();
  for (const [method, path, middleware] of ROUTES) {
    if (method === 'GET') table.get(path, ...middleware);
    else table.post(path, ...middleware);
  }
  viaTable = await serve(new Koa().use(renderMisses).use(table.routes()));

  const router = new Router();
  for (const [method, path, middleware] of ROUTES) {
    const run = compose([tagRoute(path), ...middleware]);
    if (method === 'GET') router.get(path, run);
    else router.post(path, run);
  }
  viaRouter = await serve(new Koa().use(renderMisses).use(router.routes() as Middleware).use(router.allowedMethods() as Middleware));
});
afterAll(async () => {
  await Promise.all([viaTable.close(), viaRouter.close()]);
});

interface Reply {
  status: number;
  allow: string | undefined;
  first: string | undefined;
  body: string;
}

function ask(base: string, method: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, allow: res.headers.allow, first: res.headers['x-first'] as string | undefined, body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const REQUESTS: Array<[string, string]> = [
  ['GET', '/resource'],
  ['HEAD', '/resource'],
  ['POST', '/resource'],
  ['DELETE', '/resource'],
  ['OPTIONS', '/resource'],
  ['PROPFIND', '/resource'],
  ['GET', '/resource/'],
  ['GET', '/RESOURCE'],
  ['GET', '/Resource?x=1'],
  ['GET', '/resource?x=1'],
  ['GET', '/resourc%65'],
  ['GET', '/resource/extra'],
  ['POST', '/ingestapi'],
  ['GET', '/ingestapi'],
  ['POST', '/oauth2/token'],
  ['POST', '/oauth2//token'],
  ['GET', '/.well-known/oauth-authorization-server'],
  ['HEAD', '/.well-known/oauth-authorization-server'],
  ['POST', '/admin/devices/dev-1/revoke'],
  ['GET', '/admin/devices/dev-1/revoke'],
  ['GET', '/nothing-here'],
  ['GET', '/'],
];

describe('RouteTable against @koa/router alone', () => {
  it.each(REQUESTS)('%s %s gets the same answer', async (method, path) => {
    const [table, router] = await Promise.all([ask(viaTable.url, method, path), ask(viaRouter.url, method, path)]);
    expect(table).toEqual(router);
  });

  it('runs every middleware of an exact route, in order, and names its pattern', async () => {
    const reply = await ask(viaTable.url, 'GET', '/resource');
    expect(reply.status).toBe(200);
    expect(reply.first).toBe('ran');
    expect(JSON.parse(reply.body)).toEqual({ name: 'resource', route: '/resource', params: null });
  });

  it('leaves a parameter route to the router, which fills its parameters', async () => {
    const reply = await ask(viaTable.url, 'POST', '/admin/devices/dev-7/revoke');
    expect(JSON.parse(reply.body)).toEqual({ name: 'admin', route: '/admin/devices/:did/revoke', params: { did: 'dev-7' } });
  });
});
