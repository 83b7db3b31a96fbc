import type { Context, Middleware, Next } from 'koa';
import { toSeconds } from '../clock.js';
import { accessTokenHandle } from '../tokens/access-token.js';
import type { AccessTokenRecord, AccessTokenStore } from '../tokens/store.js';
import type { FailureLimits } from '../ops/failure-limits.js';
import { authenticateClient, limitFailedClientAuthentication, type ClientRegistry } from './client-auth.js';
import { InvalidRequest } from './errors.js';
import { noStore, parseForm } from './form.js';
import { respondJson } from './respond.js';

/** RFC 7662 §2.2 response of an active token. Times are NumericDate (seconds). */
export interface ActiveIntrospection {
  active: true;
  /** RFC 9449 §6.2: `DPoP` for key-bound tokens. */
  token_type: 'Bearer' | 'DPoP';
  exp: number;
  iat: number;
  /** This authorization server (the RFC 8414 issuer), which issued the access token. */
  iss: string;
  /** The device: `did`, or `sub` for asset tokens without one. */
  sub: string;
  did?: string;
  aid?: string;
  scope?: string;
  /** RFC 7662 §2.2: the resource identifiers the session is valid at (RFC 8707). */
  aud: string[];
  /** Extension: the asset token issuer (the Salesforce site) the session was exchanged from. */
  asset_token_issuer: string;
  /** RFC 7800 §3.1 / RFC 9449 §6.2 confirmation of a bound token. */
  cnf?: { jkt: string };
}

/** RFC 7662 §2.2: anything not active says only that. */
export type IntrospectionResponse = ActiveIntrospection | { active: false };

export const INACTIVE: IntrospectionResponse = Object.freeze({ active: false });

/** Pure: a live record -> the RFC 7662 body. */
export function introspectionOf(record: AccessTokenRecord, issuer: string): ActiveIntrospection {
  const body: ActiveIntrospection = {
    active: true,
    token_type: record.cnf ? 'DPoP' : 'Bearer',
    exp: toSeconds(record.exp),
    iat: toSeconds(record.iat),
    iss: issuer,
    sub: record.sub,
    aud: [...record.aud],
    asset_token_issuer: record.iss,
  };
  if (record.did !== undefined) body.did = record.did;
  if (record.aid !== undefined) body.aid = record.aid;
  if (record.scope !== undefined) body.scope = record.scope;
  if (record.cnf) body.cnf = { jkt: record.cnf.jkt };
  return body;
}

/**
 * RFC 7662 §2.1 / RFC 7009 §2.1: `token` is required; `token_type_hint` is only a hint and is
 * ignored (there is one token type to look in). The value goes to ctx.state.presentedToken.
 */
export function requireTokenParam(ctx: Context, next: Next): Promise<void> {
  const token = ctx.state.form!.get('token');
  if (token === undefined) throw new InvalidRequest('parameter "token" is required');
  ctx.state.presentedToken = token;
  return next();
}

/**
 * Looks the token up: anything but a live access token (asset-token JWTs included) is inactive. A
 * client bound to a resource is told `active: false` for a session not meant for it (RFC 7662 §2.2):
 * one resource server cannot use, or learn about, sessions issued for another.
 */
export function introspectToken(store: Pick<AccessTokenStore, 'findAccessToken'>, issuer: string) {
  return async function introspectTokenMiddleware(ctx: Context): Promise<void> {
    const handle = accessTokenHandle(ctx.state.presentedToken!);
    const record = handle ? await store.findAccessToken(handle) : null;
    const bound = ctx.state.client?.resource;
    const meantForCaller = record !== null && (bound === undefined || record.aud.includes(bound));
    const body: IntrospectionResponse = meantForCaller ? introspectionOf(record, issuer) : INACTIVE;
    respondJson(ctx, body);
  };
}

export interface ResourceServerEndpointDeps {
  store: AccessTokenStore;
  clients: ClientRegistry;
  /** RFC 8414 issuer identifier of this server. */
  issuer: string;
  realm: string;
  formMaxBytes: number;
  /** Failed client authentication counts against the client address (secret guessing). */
  failureLimits: Pick<FailureLimits, 'checkClient' | 'charge'>;
}

/** What introspection and revocation do before their own step: an authenticated client and its `token`. */
export function resourceServerRequest(deps: ResourceServerEndpointDeps): Middleware[] {
  return [noStore, limitFailedClientAuthentication(deps.failureLimits), parseForm(deps.formMaxBytes), authenticateClient(deps.clients, deps.realm), requireTokenParam];
}

/** POST /oauth2/introspect (RFC 7662) as a pipeline of named middlewares. */
export function introspectionEndpoint(deps: ResourceServerEndpointDeps): Middleware[] {
  return [...resourceServerRequest(deps), introspectToken(deps.store, deps.issuer)];
}
