import type { Refusal } from '../redemption/refusals.js';
import type { Device } from '../tokens/store.js';

/**
 * One class per OAuth error code (RFC 6749 §5.2, RFC 6750 §3.1, RFC 8693 §2.2.2).
 * `description` is the hint shown to the client; `debug` stays in the logs (fosite's hint/debug split).
 */
export interface OAuthErrorOptions {
  debug?: string;
  /** Extra response headers, e.g. WWW-Authenticate or Retry-After. */
  headers?: Record<string, string>;
  /** The verified device a failure belongs to, issuer and id (per-device failure limits); never shown. */
  device?: Device | undefined;
  /** What a refused redemption was, for the failure limits' table (refusals.ts); never shown. */
  refusal?: Refusal | undefined;
}

export abstract class OAuthError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  readonly expose = true;
  readonly description: string;
  readonly debug: string | undefined;
  headers: Record<string, string>;
  readonly device: Device | undefined;
  readonly refusal: Refusal | undefined;

  constructor(description: string, options: OAuthErrorOptions = {}) {
    super(description);
    this.description = description;
    this.debug = options.debug;
    this.headers = options.headers ?? {};
    this.device = options.device;
    this.refusal = options.refusal;
  }

  override get name(): string {
    return this.constructor.name;
  }

  toJSON(): { error: string; error_description: string } {
    return { error: this.code, error_description: this.description };
  }
}

export class InvalidRequest extends OAuthError {
  readonly code = 'invalid_request';
  readonly status = 400;
}
/** A body over the configured limit: still an RFC-shaped invalid_request, with HTTP 413. */
export class RequestTooLarge extends OAuthError {
  readonly code = 'invalid_request';
  readonly status = 413;
}
/** A body of a media type the endpoint does not take: invalid_request, with HTTP 415. */
export class UnsupportedMediaType extends OAuthError {
  readonly code = 'invalid_request';
  readonly status = 415;
}
export class InvalidClient extends OAuthError {
  readonly code = 'invalid_client';
  readonly status = 401;
}
export class InvalidGrant extends OAuthError {
  readonly code = 'invalid_grant';
  readonly status = 400;
}
export class UnsupportedGrantType extends OAuthError {
  readonly code = 'unsupported_grant_type';
  readonly status = 400;
}
export class InvalidScope extends OAuthError {
  readonly code = 'invalid_scope';
  readonly status = 400;
}
/**
 * RFC 8707 §2 / RFC 8693 §2.2.2: a `resource` or `audience` that is malformed, unknown, or not one
 * this server issues sessions for.
 */
export class InvalidTarget extends OAuthError {
  readonly code = 'invalid_target';
  readonly status = 400;
}
/** RFC 7009 §2.2.1: the server does not revoke tokens of the presented type. */
export class UnsupportedTokenType extends OAuthError {
  readonly code = 'unsupported_token_type';
  readonly status = 400;
}
export class InvalidToken extends OAuthError {
  readonly code = 'invalid_token';
  readonly status = 401;
}
export class InsufficientScope extends OAuthError {
  readonly code = 'insufficient_scope';
  readonly status = 403;
}
/** RFC 9449 §5 / §12.2: the DPoP proof is missing, invalid, or not from the bound key (token endpoint: 400). */
export class InvalidDpopProof extends OAuthError {
  readonly code = 'invalid_dpop_proof';
  readonly status: number = 400;
}
/** RFC 9449 §7.1: at a protected resource the same error is a 401 with a DPoP challenge. */
export class InvalidDpopProofAtResource extends InvalidDpopProof {
  override readonly status: number = 401;
}
/** RFC 9449 §8: the proof must carry the server nonce sent in the DPoP-Nonce header (token endpoint: 400). */
export class UseDpopNonce extends OAuthError {
  readonly code = 'use_dpop_nonce';
  readonly status: number = 400;
}
/** RFC 9449 §9: the resource-server form of use_dpop_nonce, a 401 with a DPoP challenge. */
export class UseDpopNonceAtResource extends UseDpopNonce {
  override readonly status: number = 401;
}
export class TemporarilyUnavailable extends OAuthError {
  readonly code = 'temporarily_unavailable';
  readonly status = 503;
  constructor(description: string, options: OAuthErrorOptions = {}) {
    super(description, { ...options, headers: { 'Retry-After': '1', ...options.headers } });
  }
}
/**
 * Too many failed attempts from one client or for one device (RFC 6585 §4: 429 with Retry-After).
 * OAuth has no code of its own for this; temporarily_unavailable (RFC 6749 §4.1.2.1) tells a
 * client to come back later, which is what it should do.
 */
export class TooManyRequests extends OAuthError {
  readonly code = 'temporarily_unavailable';
  readonly status = 429;
  constructor(description: string, retryAfterSeconds: number, options: OAuthErrorOptions = {}) {
    super(description, { ...options, headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))), ...options.headers } });
  }
}
export class ServerError extends OAuthError {
  readonly code = 'server_error';
  readonly status = 500;
}
/**
 * RFC 6750 §3.1: a request without any credentials gets a challenge without an error code.
 * Rendered as 401 with an empty body.
 */
export class MissingCredentials extends OAuthError {
  readonly code = '';
  readonly status = 401;
}
