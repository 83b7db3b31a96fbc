import type { AssertionRejected } from '../../assertion/rejections.js';
import type { ProofRequest } from '../../dpop/proof.js';
import type { FormParams } from '../form.js';
import type { OAuthError, OAuthErrorOptions } from '../errors.js';

/** RFC 6749 §5.1 success body (plus RFC 8693 §2.2.1 issued_token_type). */
export interface TokenResponse {
  access_token: string;
  /** `DPoP` when the session is bound to a key (RFC 9449 §5). */
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope?: string;
  issued_token_type?: string;
}

/** One handler per grant type, keyed by grant_type URN (fosite's shape). */
export interface GrantHandler {
  readonly grantType: string;
  handle(form: FormParams, request: GrantRequest): Promise<TokenResponse>;
}

/** What a grant needs from the HTTP request besides the form: the DPoP proof(s), if any (RFC 9449 §5). */
export interface GrantRequest {
  proof: ProofRequest;
}

/** How a grant reports a refused asset token; `refused` goes into the error's options for the failure limits. */
export type RejectionToError = (rejection: AssertionRejected, refused: Pick<OAuthErrorOptions, 'refusal' | 'device'>) => OAuthError;
