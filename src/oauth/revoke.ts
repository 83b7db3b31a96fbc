import type { Context, Middleware } from 'koa';
import { accessTokenHandle, type AccessTokenHandle } from '../tokens/access-token.js';
import type { AccessTokenStore } from '../tokens/store.js';
import { UnsupportedTokenType } from './errors.js';
import { resourceServerRequest, type ResourceServerEndpointDeps } from './introspect.js';

/** A JWS compact serialization (two dots or more): an asset token, never one of our access tokens. */
const isJws = (token: string): boolean => {
  const first = token.indexOf('.');
  return first >= 0 && token.indexOf('.', first + 1) >= 0;
};

/**
 * Deletes the access token. RFC 7009 §2.2: 200 whether or not the token was known (an unknown,
 * expired or foreign token is simply not there to revoke). The record lives in the shared store, so
 * every instance refuses the token from the next request on. An asset token is not ours to revoke:
 * a 200 would tell the caller it is dead while it stays usable until it is redeemed or expires, so
 * it gets unsupported_token_type (RFC 7009 §2.2.1); a device is stopped with the admin API.
 * A client bound to a resource revokes only sessions meant for it (RFC 7009 §2.1): another
 * resource's session is, to that client, a token it does not know (introspection tells it
 * `active: false`), so it gets the same 200 and the session stays live. Only a bound client pays
 * the extra lookup.
 */
export function revokeToken(store: Pick<AccessTokenStore, 'findAccessToken' | 'revokeAccessToken'>) {
  const meantFor = async (bound: string | undefined, handle: AccessTokenHandle): Promise<boolean> =>
    bound === undefined || ((await store.findAccessToken(handle))?.aud.includes(bound) ?? false);
  return async function revokeTokenMiddleware(ctx: Context): Promise<void> {
    const token = ctx.state.presentedToken!;
    if (isJws(token)) {
      throw new UnsupportedTokenType('asset tokens are not revoked here: they are single use and short-lived; revoke the device to refuse them');
    }
    const handle = accessTokenHandle(token);
    if (handle && (await meantFor(ctx.state.client?.resource, handle))) await store.revokeAccessToken(handle);
    ctx.status = 200;
    ctx.body = '';
  };
}

/** POST /oauth2/revoke (RFC 7009) as a pipeline of named middlewares. */
export function revocationEndpoint(deps: ResourceServerEndpointDeps): Middleware[] {
  return [...resourceServerRequest(deps), revokeToken(deps.store)];
}
