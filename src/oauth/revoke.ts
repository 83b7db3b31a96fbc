import type { Context, Middleware } from 'koa';
import { accessTokenHandle } from '../tokens/access-token.js';
import type { AccessTokenStore } from '../tokens/store.js';
import { authenticateClient } from './client-auth.js';
import { noStore, parseForm } from './form.js';
import { requireTokenParam, type ResourceServerEndpointDeps } from './introspect.js';

/**
 * Deletes the access token. RFC 7009 §2.2: 200 whether or not the token was known (an unknown,
 * expired or foreign token, an asset-token JWT included, is simply not there to revoke). The record
 * lives in the shared store, so every instance refuses the token from the next request on.
 */
export function revokeToken(store: Pick<AccessTokenStore, 'revokeAccessToken'>) {
  return async function revokeTokenMiddleware(ctx: Context): Promise<void> {
    const handle = accessTokenHandle(ctx.state.presentedToken!);
    if (handle) await store.revokeAccessToken(handle);
    ctx.status = 200;
    ctx.body = '';
  };
}

/** POST /oauth2/revoke (RFC 7009) as a pipeline of named middlewares. */
export function revocationEndpoint(deps: ResourceServerEndpointDeps): Middleware[] {
  return [noStore, parseForm(deps.formMaxBytes), authenticateClient(deps.clients, deps.realm), requireTokenParam, revokeToken(deps.store)];
}
