import { createServer, type Server } from 'node:http';
import Koa from 'koa';
import { assetgateGuard, type AssetgateGuardOptions, type DeviceClaims } from '../../src/guard/index.js';
import { postForm, type Harness } from './harness.js';
import { assetToken, type AssetTokenOptions, type MockIssuer } from './mock-issuer.js';

/** Two resource servers; the second one's id and secret need form-urlencoding in Basic credentials. */
export const RS = { id: 'rs-one', secret: 'first-secret-0123456789' } as const;
export const ODD = { id: 'my-client', secret: 'p@ss:w+rd/=%&~0123456789' } as const;
export const INTROSPECTION_CLIENTS = `${RS.id}:${RS.secret},${ODD.id}:${ODD.secret}`;
export const ADMIN_API_KEY = 'admin-key-0123456789abcdefghijkl';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** RFC 6749 §2.3.1: form-urlencode, then base64. */
export const basic = (id: string, secret: string, encode = true): string => {
  const e = (s: string) => (encode ? encodeURIComponent(s).replace(/-/g, '%2D') : s);
  return `Basic ${Buffer.from(`${e(id)}:${e(secret)}`).toString('base64')}`;
};

export const rsAuth = { authorization: basic(RS.id, RS.secret) };

/** Exchanges a fresh asset token (jwt-bearer) and returns the access token. */
export async function sessionFor(ag: Harness, issuer: MockIssuer, o: AssetTokenOptions = {}, extra: Record<string, string> = {}): Promise<string> {
  const res = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await assetToken(issuer, ag.tokenEndpoint, o), ...extra });
  if (res.status !== 200) throw new Error(`exchange failed: ${res.status} ${res.text}`);
  return res.json.access_token as string;
}

export const introspect = (ag: Harness, token: string, headers: Record<string, string> = rsAuth, extra: Record<string, string> = {}) =>
  postForm(`${ag.url}/oauth2/introspect`, { token, ...extra }, headers);

export const revoke = (ag: Harness, token: string, headers: Record<string, string> = rsAuth, extra: Record<string, string> = {}) =>
  postForm(`${ag.url}/oauth2/revoke`, { token, ...extra }, headers);

export const resource = (ag: Harness, token: string) => fetch(`${ag.url}/resource`, { headers: { authorization: `Bearer ${token}` } });

/** A small service of someone else's, protected by the guard: echoes ctx.state.device. */
export async function startService(options: AssetgateGuardOptions): Promise<{ url: string; close(): Promise<void> }> {
  const app = new Koa();
  app.use(assetgateGuard(options));
  app.use((ctx) => {
    ctx.body = { device: ctx.state.device as DeviceClaims, bearerLeft: 'bearer' in ctx.state };
  });
  const server: Server = createServer(app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
