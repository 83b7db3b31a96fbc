import { errors } from 'jose';

/**
 * Why an asset token was refused. The `reason` is stable (metrics, logs); `hint` is what the client
 * is told; `debug` stays in the logs.
 */
export type RejectionReason =
  | 'malformed'
  | 'encrypted'
  | 'too_large'
  | 'bad_header'
  | 'alg_not_allowed'
  | 'untrusted_issuer'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'lifetime_too_long'
  | 'wrong_audience'
  | 'missing_claim'
  | 'invalid_claim'
  | 'unsupported'
  | 'replayed'
  | 'device_blocked'
  /** Proof of possession is required but the asset token carries no usable cnf.jwk (RFC 7800). */
  | 'no_confirmation_key'
  | 'asset_not_allowed';

export class AssertionRejected extends Error {
  override name = 'AssertionRejected';
  /** Whether the issuer's signature checked out: the token is genuine, whatever else is wrong with it. */
  verified = false;
  /** Set only once the signature was verified: the device the failure belongs to (its id, and its issuer in `iss`). */
  subject: string | undefined;
  iss: string | undefined;
  constructor(
    readonly reason: RejectionReason,
    readonly hint: string,
    readonly debug?: string,
  ) {
    super(hint);
  }
}

/** What the logs keep of a refusal (asset token or DPoP proof): its reason, and the detail when there is one. */
export function rejectionDetail(rejection: { reason: string; debug?: string | undefined }): string {
  return rejection.debug ? `${rejection.reason}: ${rejection.debug}` : rejection.reason;
}

/**
 * One table from jose's error classes to rejections (no message matching), for what the key
 * lookup and the signature check can throw; the claims are checked by claims-policy.ts, not jose.
 */
export function rejectionFromJose(err: unknown): AssertionRejected {
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return new AssertionRejected('bad_signature', 'assertion signature is invalid', err.message);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new AssertionRejected('alg_not_allowed', 'assertion algorithm is not allowed', err.message);
  if (err instanceof errors.JOSENotSupported) return new AssertionRejected('unsupported', 'assertion uses an unsupported feature', err.message);
  if (err instanceof errors.JWSInvalid) return new AssertionRejected('malformed', 'assertion is not a well-formed signed JWT', err.message);
  return new AssertionRejected('malformed', 'assertion could not be processed', (err as Error)?.message);
}
