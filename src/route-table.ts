import Router from '@koa/router';
import type { Middleware } from 'koa';
import compose from 'koa-compose';

type Method = 'GET' | 'POST';

/** A path with no parameters or patterns: it can only ever match itself. */
const isFixedPath = (path: string): boolean => /^[A-Za-z0-9/._~-]+$/.test(path);

/**
 * The server's routes. @koa/router, per request, tests every route's pattern, then builds and
 * composes the matched chain anew; almost every request names one of a handful of fixed paths
 * exactly, so such a request goes straight to its route by two Map lookups (method, then path).
 * Everything else (HEAD, a trailing slash, another letter case, a parameter route, an unknown path
 * or method) goes through the router, which answers it as it always has: its matching, HEAD for
 * GET, 404, 405 with Allow, 501.
 */
export class RouteTable {
  private readonly router = new Router();
  private readonly exact = new Map<string, Map<string, Middleware>>([
    ['GET', new Map()],
    ['POST', new Map()],
  ]);

  get(path: string, ...middleware: Middleware[]): void {
    this.add('GET', path, middleware);
  }

  post(path: string, ...middleware: Middleware[]): void {
    this.add('POST', path, middleware);
  }

  /**
   * One route's middlewares are composed once here (the router would compose them on every
   * request), and the route's path pattern goes to ctx.state.route for the request outcome.
   */
  private add(method: Method, path: string, middleware: Middleware[]): void {
    const run = middleware.length === 1 ? middleware[0]! : compose(middleware);
    const handler: Middleware = function routeMiddleware(ctx, next) {
      ctx.state.route = path;
      return run(ctx, next);
    };
    if (method === 'GET') this.router.get(path, handler);
    else this.router.post(path, handler);
    if (isFixedPath(path)) this.exact.get(method)!.set(path, handler);
  }

  /** The dispatching middleware: exact paths first, the router for the rest (and its 404/405/501). */
  routes(): Middleware {
    const exact = this.exact;
    const viaRouter = compose([this.router.routes(), this.router.allowedMethods()] as Middleware[]);
    return function dispatchRoute(ctx, next) {
      const handler = exact.get(ctx.method)?.get(ctx.path);
      return handler ? handler(ctx, next) : viaRouter(ctx, next);
    };
  }
}
