import { rejectionDetail } from '../../assertion/rejections.js';
import { GRANT_JWT_BEARER } from '../constants.js';
import { InvalidGrant, InvalidRequest } from '../errors.js';
import { formValues, type FormParams } from '../form.js';
import type { GrantHandler, GrantRequest, TokenResponse } from './grant.js';
import { exchangeAssetToken, type SessionIssuerDeps } from './session-issuer.js';

/**
 * RFC 7523 §2.1: `assertion` carries the asset token; every assertion failure is invalid_grant (§3.1).
 * RFC 8707 §2: `resource` (repeatable) names where the session is to be used.
 */
export function jwtBearerGrant(deps: SessionIssuerDeps): GrantHandler {
  return {
    grantType: GRANT_JWT_BEARER,
    async handle(form: FormParams, request: GrantRequest): Promise<TokenResponse> {
      const assertion = form.get('assertion');
      if (assertion === undefined) throw new InvalidRequest('parameter "assertion" is required');
      const session = { scope: form.get('scope'), resources: formValues(form, 'resource'), audiences: [] };
      return exchangeAssetToken(assertion, session, deps, (r, refused) => new InvalidGrant(r.hint, { debug: rejectionDetail(r), ...refused }), request.proof);
    },
  };
}
