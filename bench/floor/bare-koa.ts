/**
 * What koa itself costs per request, for `npm run bench:icount` (target `koa`): reads the body of a
 * POST, answers a constant JSON object (202 at /ingestapi, like the real route; an `access_token` at
 * the token endpoint so the instruction count's set-up goes through), and does nothing else: no
 * verification, no Redis, no routing. Not a server for the job: the least any koa app pays, against
 * which the floor's and the project's figures can be read.
 */
import Koa from 'koa';

const app = new Koa();
app.use(async (ctx) => {
  if (ctx.method === 'POST') {
    for await (const chunk of ctx.req) void chunk; // drain, as any handler of a body must
  }
  ctx.status = ctx.path === '/ingestapi' ? 202 : 200;
  ctx.body = { access_token: 'bare', token_type: 'Bearer' };
});
app.listen(Number(process.env.PORT), '127.0.0.1');

process.on('SIGTERM', () => process.exit(0));
