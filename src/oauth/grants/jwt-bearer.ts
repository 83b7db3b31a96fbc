import { GRANT_JWT_BEARER } from '../constants.js';
import { InvalidGrant, InvalidRequest } from '../errors.js';
import type { FormParams } from '../form.js';
import type { GrantHandler, GrantRequest, TokenResponse } from './grant.js';
import { exchangeAssetToken, type SessionIssuerDeps } from './session-issuer.js';

/** RFC 7523 §2.1: `assertion` carries the asset token; every assertion failure is invalid_grant (§3.1). */
export function jwtBearerGrant(deps: SessionIssuerDeps): GrantHandler {
  return {
    grantType: GRANT_JWT_BEARER,
    async handle(form: FormParams, request: GrantRequest): Promise<TokenResponse> {
      const assertion = form.get('assertion');
      if (assertion === undefined) throw new InvalidRequest('parameter "assertion" is required');
      return exchangeAssetToken(assertion, form.get('scope'), deps, (r, refused) => new InvalidGrant(r.hint, { debug: `${r.reason}: ${r.debug ?? ''}`, ...refused }), request.proof);
    },
  };
}
