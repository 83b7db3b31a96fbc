import { rejectionDetail } from '../../assertion/rejections.js';
import { GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT } from '../constants.js';
import { InvalidRequest } from '../errors.js';
import { formValues, type FormParams } from '../form.js';
import type { GrantHandler, GrantRequest, TokenResponse } from './grant.js';
import { exchangeAssetToken, type SessionIssuerDeps } from './session-issuer.js';

/**
 * RFC 8693 §2.1. subject_token + subject_token_type are required; the only subject token type is a
 * JWT and the only issued type an access token. §2.2.2: an invalid or unacceptable subject_token is
 * invalid_request. `resource` and `audience` (both repeatable) name where the session is to be used:
 * an audience is a configured resource's name or its identifier (resources.ts).
 */
export function tokenExchangeGrant(deps: SessionIssuerDeps): GrantHandler {
  return {
    grantType: GRANT_TOKEN_EXCHANGE,
    async handle(form: FormParams, request: GrantRequest): Promise<TokenResponse> {
      const subjectToken = form.get('subject_token');
      const subjectTokenType = form.get('subject_token_type');
      if (subjectToken === undefined) throw new InvalidRequest('parameter "subject_token" is required');
      if (subjectTokenType === undefined) throw new InvalidRequest('parameter "subject_token_type" is required');
      if (subjectTokenType !== TOKEN_TYPE_JWT) throw new InvalidRequest(`subject_token_type must be ${TOKEN_TYPE_JWT}`);
      const requested = form.get('requested_token_type');
      if (requested !== undefined && requested !== TOKEN_TYPE_ACCESS_TOKEN) {
        throw new InvalidRequest(`requested_token_type must be ${TOKEN_TYPE_ACCESS_TOKEN}`);
      }
      if (form.has('actor_token') || form.has('actor_token_type')) {
        // Delegation (§1.1) is not offered; accepting an actor token we do not check would be wrong.
        throw new InvalidRequest('actor tokens are not supported');
      }
      const session = { scope: form.get('scope'), resources: formValues(form, 'resource'), audiences: formValues(form, 'audience') };
      const response = await exchangeAssetToken(
        subjectToken,
        session,
        deps,
        (r, refused) => new InvalidRequest(`subject_token is invalid: ${r.hint}`, { debug: rejectionDetail(r), ...refused }),
        request.proof,
      );
      return { ...response, issued_token_type: TOKEN_TYPE_ACCESS_TOKEN };
    },
  };
}
