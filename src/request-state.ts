import type { Logger } from 'pino';
import type { AuthenticatedClient } from './oauth/client-auth.js';
import type { OAuthError } from './oauth/errors.js';
import type { FormParams } from './oauth/form.js';
import type { Credentials } from './resource/credentials.js';
import type { VerifiedRedemption } from './redemption/redeem.js';
import type { Principal } from './resource/guard.js';
import type { AssertionUse } from './tokens/store.js';
import type { DefaultState } from 'koa';

/**
 * Everything a request carries between middlewares, declared once (oidc-provider's typed ctx.oidc is
 * the model): who writes each key is named beside it, and readers get the type without a cast.
 * A key is absent until its writer has run, so each is optional.
 */
declare module 'koa' {
  interface DefaultState {
    /** requestContext: the X-Request-Id echoed and logged. */
    requestId?: string;
    /** requestLogger: the pino child carrying reqId, made on first use. */
    log?: Logger;
    /** app.ts route(): the path pattern of the matched route (a bounded metrics label). */
    route?: string;
    /** renderErrors: what the request failed with. */
    error?: OAuthError;
    /** parseForm: the application/x-www-form-urlencoded body. */
    form?: FormParams;
    /** dispatchGrant: the grant_type handled (token endpoint). */
    grantType?: string;
    /** authenticateClient: the resource server calling introspection or revocation. */
    client?: AuthenticatedClient;
    /** requireTokenParam: the `token` parameter of introspection or revocation. */
    presentedToken?: string;
    /** requireAuthorization: the Authorization credentials of a resource request. */
    credentials?: Credentials;
    /** authenticate: who is calling a resource. */
    principal?: Principal;
    /** authenticate with consumeAfterBody (bearer sequence at /ingestapi): verified, consumed by consumeAssetToken. */
    verifiedRedemption?: VerifiedRedemption;
    /** authenticate (bearer sequence): the asset token use to release when the request fails after it. */
    assertionUse?: AssertionUse;
    /** parseJsonBody: the validated JSON text of an ingest request. */
    jsonText?: string;
    /** parseRevokeBody: the admin revocation request body. */
    revokeBody?: { iss?: string | undefined; block_asset_tokens_issued_before?: 'now' | 'none' | number | undefined };
  }
}

/**
 * ctx.state of every request, with every key present from the start: koa's `{}` grows a different
 * hidden class with each middleware's key, in a different order per route, and reads of it went
 * through V8's megamorphic (generic) property lookup. One shape keeps them monomorphic.
 */
export class RequestState implements DefaultState {
  log: Logger | undefined = undefined;
  route: string | undefined = undefined;
  error: OAuthError | undefined = undefined;
  form: FormParams | undefined = undefined;
  grantType: string | undefined = undefined;
  client: AuthenticatedClient | undefined = undefined;
  presentedToken: string | undefined = undefined;
  credentials: Credentials | undefined = undefined;
  principal: Principal | undefined = undefined;
  verifiedRedemption: VerifiedRedemption | undefined = undefined;
  assertionUse: AssertionUse | undefined = undefined;
  jsonText: string | undefined = undefined;
  revokeBody: DefaultState['revokeBody'] = undefined;

  constructor(readonly requestId: string) {}
}
