import type { Context, Middleware, Next } from 'koa';
import { offerDpopNonce, presentedProof, type DpopContext } from '../dpop/context.js';
import { InvalidRequest, UnsupportedGrantType } from './errors.js';
import { noStore, parseForm, type FormParams } from './form.js';
import type { GrantRegistry } from './grants/registry.js';
import { limitFailedExchanges, noFailureLimits, type FailureLimits } from '../ops/failure-limits.js';
import { respondJson } from './respond.js';

/** Picks the grant handler by grant_type (RFC 6749 §4.5 / §5.2). */
export function dispatchGrant(grants: GrantRegistry, publicUrl: string) {
  return async function dispatchGrantMiddleware(ctx: Context, _next: Next): Promise<void> {
    const form = ctx.state.form as FormParams;
    const grantType = form.get('grant_type');
    if (grantType === undefined) throw new InvalidRequest('parameter "grant_type" is required');
    const handler = grants.get(grantType);
    if (!handler) throw new UnsupportedGrantType('grant_type is not supported');
    ctx.state.grantType = grantType;
    respondJson(ctx, await handler.handle(form, { proof: presentedProof(ctx, publicUrl) }));
  };
}

/** RFC 8707 §2 `resource` and RFC 8693 §2.1 `audience` may be given more than once. */
const REPEATABLE = new Set(['resource', 'audience']);

/** POST /oauth2/token as a pipeline of named middlewares. */
export function tokenEndpoint(grants: GrantRegistry, formMaxBytes: number, dpop: DpopContext, failureLimits: FailureLimits = noFailureLimits): Middleware[] {
  return [noStore, offerDpopNonce(dpop), limitFailedExchanges(failureLimits), parseForm(formMaxBytes, REPEATABLE), dispatchGrant(grants, dpop.publicUrl)];
}
