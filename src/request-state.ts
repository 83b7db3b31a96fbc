import type { Logger } from 'pino';
import type { AuthenticatedClient } from './oauth/client-auth.js';
import type { OAuthError } from './oauth/errors.js';
import type { FormParams } from './oauth/form.js';
import type { Credentials } from './resource/credentials.js';
import type { VerifiedRedemption } from './redemption/redeem.js';
import type { Principal } from './resource/guard.js';
import type { AssertionUse } from './tokens/store.js';

/**
 * Everything a request carries between middlewares, declared once (oidc-provider's typed ctx.oidc is
 * the model): who writes each key is named beside it, and readers get the type without a cast.
 * A key is undefined until its writer has run.
 *
 * Every key is present from the start (requestContext makes one per request): koa's `{}` grows a
 * different hidden class with each middleware's key, in a different order per route, and reads of
 * it went through V8's megamorphic (generic) property lookup. One shape keeps them monomorphic.
 */
export class RequestState {
  /** renderErrors / requestLogger: the pino child carrying reqId, made on first use. */
  log: Logger | undefined = undefined;
  /** route-table.ts: the path pattern of the matched route (a bounded metrics label). */
  route: string | undefined = undefined;
  /** renderErrors: what the request failed with. */
  error: OAuthError | undefined = undefined;
  /** parseForm: the application/x-www-form-urlencoded body. */
  form: FormParams | undefined = undefined;
  /** dispatchGrant: the grant_type handled (token endpoint). */
  grantType: string | undefined = undefined;
  /** authenticateClient: the resource server calling introspection or revocation. */
  client: AuthenticatedClient | undefined = undefined;
  /** requireTokenParam: the `token` parameter of introspection or revocation. */
  presentedToken: string | undefined = undefined;
  /** requireAuthorization: the Authorization credentials of a resource request. */
  credentials: Credentials | undefined = undefined;
  /** authenticate: who is calling a resource. */
  principal: Principal | undefined = undefined;
  /** authenticate with consumeAfterBody (bearer sequence at /ingestapi): verified, consumed by consumeAssetToken. */
  verifiedRedemption: VerifiedRedemption | undefined = undefined;
  /** authenticate (bearer sequence): the asset token use to release when the request fails after it. */
  assertionUse: AssertionUse | undefined = undefined;
  /** parseJsonBody: the validated JSON text of an ingest request. */
  jsonText: string | undefined = undefined;
  /** parseRevokeBody: the admin revocation request body. */
  revokeBody: { iss?: string | undefined; block_asset_tokens_issued_before?: 'now' | 'none' | number | undefined } | undefined = undefined;

  /** requestContext: the X-Request-Id echoed and logged. */
  constructor(readonly requestId: string) {}
}

declare module 'koa' {
  // The keys are RequestState's; optional, since koa types ctx.state before requestContext runs.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- the members come from RequestState
  interface DefaultState extends Partial<RequestState> {}
}
