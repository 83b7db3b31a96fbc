import type { AccessTokenHandle } from './access-token.js';

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

/** Narrow interface over access tokens and single-use assertion ids (Redis, or memory in development). */
export interface TokenStore {
  /** Atomically: refuse a blocked device, mark the assertion id used, and save the token if given. */
  consumeAssertion(use: AssertionUse, token?: NewAccessToken): Promise<ConsumeOutcome>;
  /** Undo a consumeAssertion whose follow-up work failed before anything was accepted. */
  releaseAssertion(use: AssertionUse): Promise<void>;
  /** Marks a DPoP proof's jti used (SET NX semantics): 'replayed' when it already was. */
  consumeDpopProof(proof: DpopProofUse): Promise<'accepted' | 'replayed'>;
  /** The live record, or null when unknown, expired, revoked or device-revoked. */
  findAccessToken(handle: AccessTokenHandle): Promise<AccessTokenRecord | null>;
  revokeAccessToken(handle: AccessTokenHandle): Promise<void>;
  /**
   * Device-wide revocation: every access token of the subject issued up to `atMs` dies; with
   * `blockAssetTokensBeforeMs`, asset tokens issued before that time are refused too.
   */
  revokeDevice(subject: string, atMs: number, blockAssetTokensBeforeMs?: number): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface IngestEvent {
  sub: string;
  did?: string;
  aid?: string;
  iss: string;
  receivedAt: number;
  /** The request body, validated JSON text. */
  body: string;
}

/** The ingest stream: append returns only after the store acknowledged, with the entry id. */
export interface IngestStream {
  append(event: IngestEvent): Promise<string>;
}

/** A store that cannot be reached or answered with an error: the client may retry (503). */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}
