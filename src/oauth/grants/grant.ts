import type { AssertionRejected } from '../../assertion/rejections.js';
import type { FormParams } from '../form.js';
import type { OAuthError } from '../errors.js';

/** RFC 6749 §5.1 success body (plus RFC 8693 §2.2.1 issued_token_type). */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope?: string;
  issued_token_type?: string;
}

/** One handler per grant type, keyed by grant_type URN (fosite's shape). */
export interface GrantHandler {
  readonly grantType: string;
  handle(form: FormParams): Promise<TokenResponse>;
}

export type RejectionToError = (rejection: AssertionRejected) => OAuthError;
