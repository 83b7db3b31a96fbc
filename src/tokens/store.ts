import type { AccessTokenHandle } from './access-token.js';

/**
 * A device: its issuer and its id there (the session subject: `did`, or `sub` for generic JWTs). Two
 * trusted issuers may name the same id; they name two devices, whose sessions, revocations and
 * failure counts are kept apart.
 */
export interface Device {
  iss: string;
  subject: string;
}

/** What an access token stands for. Times in milliseconds since epoch. */
export interface AccessTokenRecord {
  /** Session subject: the device id (`did`), or `sub` for generic JWTs. */
  sub: string;
  did?: string;
  aid?: string;
  iss: string;
  /** The asset token's id (`jti`, or Salesforce's `id`). */
  jti: string;
  scope?: string;
  /**
   * The resource identifiers the session is valid at (RFC 8707, RFC 9700 §2.3); a resource server
   * refuses a session that does not name it.
   */
  aud: readonly string[];
  iat: number;
  exp: number;
  /** RFC 7800 confirmation: the bound key's RFC 7638 thumbprint. */
  cnf?: { jkt: string };
}

/** One use of an asset token (exchange or bearer sequence). */
export interface AssertionUse {
  iss: string;
  jti: string;
  subject: string;
  /** When the single-use mark may be forgotten: the assertion's exp plus skew. */
  forgetAtMs: number;
  /** iat (or nbf) of the assertion; compared with a device-wide block. */
  issuedAtMs: number | undefined;
}

export interface NewAccessToken {
  handle: AccessTokenHandle;
  record: AccessTokenRecord;
}

export type ConsumeOutcome = 'accepted' | 'replayed' | 'device_blocked';

/** One DPoP proof (RFC 9449 §11.1): its jti is single use per key until `forgetAtMs`. */
export interface DpopProofUse {
  /** RFC 7638 thumbprint of the proof's key. */
  jkt: string;
  jti: string;
  forgetAtMs: number;
}

/**
 * Single-use marks of asset tokens (RFC 7523 §3 item 7; fosite's IsJWTUsed / MarkJWTUsedForTime).
 * The mark, the device-wide block and the session that the exchange issues are one atomic step, so a
 * replay can never win a session and a session never exists for an unmarked token.
 */
export interface AssertionUseStore {
  /** Atomically: refuse a blocked device, mark the assertion id used, and save the session if given. */
  consumeAssertion(use: AssertionUse, session?: NewAccessToken): Promise<ConsumeOutcome>;
  /** Undo a consumeAssertion whose follow-up work failed before anything was accepted. */
  releaseAssertion(use: AssertionUse): Promise<void>;
}

/** The single-use mark of a proof's jti per key (RFC 9449 §11.1), SET NX semantics: all a verifier writes. */
export interface DpopProofReplay {
  consumeDpopProof(proof: DpopProofUse): Promise<'accepted' | 'replayed'>;
}

/** What a resource reads: live access tokens, nothing else (the guard library has only this). */
export interface AccessTokenReader {
  /** The live record, or null when unknown, expired, revoked, device-revoked or of an issuer no longer trusted. */
  findAccessToken(handle: AccessTokenHandle): Promise<AccessTokenRecord | null>;
}

/** Opaque access tokens, read by the resources and introspection, ended by revocation (RFC 7009). */
export interface AccessTokenStore extends AccessTokenReader {
  revokeAccessToken(handle: AccessTokenHandle): Promise<void>;
}

/** Device-wide revocation marks (read by the other stores in the same round trip as their own keys). */
export interface DeviceRevocationStore {
  /**
   * Every access token of the device issued up to `atMs` dies; with `blockAssetTokensBeforeMs`,
   * asset tokens issued before that time are refused too. The mark outlives every session it covers,
   * whatever the caller's own settings, and a later revocation never shortens it.
   */
  revokeDevice(device: Device, atMs: number, blockAssetTokensBeforeMs?: number): Promise<void>;
}

/** Whether the store answers (readiness). */
export interface StoreHealth {
  ping(): Promise<void>;
}

/**
 * Everything one backend (Redis, or memory in development) provides. Handlers are given only the
 * narrow interface they need; the whole store is for wiring and shutdown.
 */
export interface TokenStore extends AssertionUseStore, DpopProofReplay, AccessTokenStore, DeviceRevocationStore, StoreHealth {
  close(): Promise<void>;
}

/** A store that cannot be reached or answered with an error: the client may retry (503). */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}
