import { hash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, errors, jwtVerify, type JWK, type JWTPayload } from 'jose';
import type { Clock } from '../clock.js';
import type { DpopProofReplay } from '../tokens/store.js';
import { DPOP_JWT_TYPE, DPOP_PROOF_MAX_BYTES, PRIVATE_JWK_MEMBERS } from './constants.js';
import type { DpopNonces } from './nonce.js';

/** Why a proof was refused: a stable reason (logs, tests), a hint for the client, debug for logs. */
export type DpopRejectionReason =
  | 'missing'
  | 'multiple'
  | 'malformed'
  | 'bad_type'
  | 'alg_not_allowed'
  | 'bad_key'
  | 'private_key'
  | 'bad_signature'
  | 'missing_claim'
  | 'wrong_method'
  | 'wrong_url'
  | 'issued_in_future'
  | 'stale'
  | 'wrong_ath'
  | 'wrong_key'
  | 'nonce_required'
  | 'replayed';

export class DpopProofRejected extends Error {
  override name = 'DpopProofRejected';
  constructor(
    readonly reason: DpopRejectionReason,
    readonly hint: string,
    readonly debug?: string,
  ) {
    super(hint);
  }
}

export interface DpopVerifierDeps {
  /** Allow-list of asymmetric JWS algorithms (DPOP_ALGORITHMS). */
  algorithms: string[];
  /** How old a proof's iat may be (DPOP_IAT_WINDOW_SECONDS), on top of the skew. */
  iatWindowSeconds: number;
  skewSeconds: number;
  clock: Clock;
  store: DpopProofReplay;
  /** Set when server nonces are on (DPOP_NONCE_SECRET). */
  nonces: DpopNonces | undefined;
}

export interface ProofRequest {
  /** Every DPoP header value the request carried. */
  proofs: string[];
  method: string;
  /** The request URL as clients know it: PUBLIC_URL + path, never built from the Host header. */
  url: string;
  /** At a resource: the token the proof must cover (`ath`, §4.3 item 11). */
  accessToken?: string;
  /** The key the proof must come from (RFC 7638 thumbprint), when the token is bound to one. */
  expectedJkt?: string;
}

export interface VerifiedProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key. */
  jkt: string;
  jti: string;
  iat: number;
}

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const MAX_JTI_LENGTH = 256;

/** §4.2 `ath`: base64url of the SHA-256 of the ASCII access token. */
export const accessTokenHash = (token: string): string => hash('sha256', Buffer.from(token, 'ascii'), 'base64url');

/** RFC 7638 thumbprint, the value of cnf.jkt (RFC 9449 §6). */
export const jwkThumbprint = (jwk: JWK): Promise<string> => calculateJwkThumbprint(jwk, 'sha256');

export const isPublicJwk = (jwk: object): boolean => PRIVATE_JWK_MEMBERS.every((m) => !(m in jwk));

/** Scheme, host and path in normalized form (§4.3 item 9: query and fragment ignored). */
function normalizedHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function reject(reason: DpopRejectionReason, hint: string, debug?: string): never {
  throw new DpopProofRejected(reason, hint, debug);
}

function fromJose(err: unknown): DpopProofRejected {
  const debug = (err as Error)?.message;
  if (err instanceof errors.JWSSignatureVerificationFailed) return new DpopProofRejected('bad_signature', 'DPoP proof signature is invalid', debug);
  if (err instanceof errors.JOSEAlgNotAllowed) return new DpopProofRejected('alg_not_allowed', 'DPoP proof algorithm is not allowed', debug);
  if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'typ') return new DpopProofRejected('bad_type', `DPoP proof typ must be ${DPOP_JWT_TYPE}`, debug);
  if (err instanceof errors.JWSInvalid || err instanceof errors.JOSENotSupported || err instanceof TypeError) {
    return new DpopProofRejected('bad_key', 'DPoP proof jwk is not a usable public key for its alg', debug);
  }
  return new DpopProofRejected('malformed', 'DPoP proof is not a well-formed signed JWT', debug);
}

/** The unverified header, checked before any cryptography (§4.3 items 2, 4, 5, 7). */
function checkHeader(proof: string, algorithms: string[]): void {
  if (proof.length > DPOP_PROOF_MAX_BYTES) reject('malformed', 'DPoP proof is too large');
  if (!JWS_COMPACT.test(proof)) reject('malformed', 'DPoP proof is not a compact JWS');
  let header;
  try {
    header = decodeProtectedHeader(proof);
  } catch (err) {
    throw fromJose(err);
  }
  const typ = typeof header.typ === 'string' ? header.typ.toLowerCase().replace(/^application\//, '') : undefined;
  if (typ !== DPOP_JWT_TYPE) reject('bad_type', `DPoP proof typ must be ${DPOP_JWT_TYPE}`);
  if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
    reject('alg_not_allowed', `DPoP proof alg must be one of ${algorithms.join(' ')}`, JSON.stringify(header.alg)); // parsed JSON, so printable; String() throws on {"toString":0} (a 500)
  }
  if (typeof header.jwk !== 'object' || header.jwk === null || Array.isArray(header.jwk)) reject('bad_key', 'DPoP proof header has no jwk');
  if (!isPublicJwk(header.jwk!)) reject('private_key', 'DPoP proof jwk must be a public key (it carries private key material)');
}

function checkClaims(payload: JWTPayload, request: ProofRequest, deps: DpopVerifierDeps): { jti: string; iat: number } {
  const { jti, iat, htm, htu } = payload;
  // Well-formed UTF-16 too: a lone surrogate becomes U+FFFD in the UTF-8 of the replay mark, where
  // two distinct jti values would then collide.
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH || !jti.isWellFormed()) {
    reject('missing_claim', 'DPoP proof needs a jti (a well-formed string of at most 256 characters)');
  }
  if (typeof htm !== 'string') reject('missing_claim', 'DPoP proof needs an htm');
  if (typeof htu !== 'string') reject('missing_claim', 'DPoP proof needs an htu');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) reject('missing_claim', 'DPoP proof needs a numeric iat');
  if (htm !== request.method) reject('wrong_method', 'DPoP proof htm does not match the request method');
  const expected = normalizedHtu(request.url);
  if (expected === undefined || normalizedHtu(htu as string) !== expected) reject('wrong_url', 'DPoP proof htu does not match the request URL', String(htu).slice(0, 200));

  const nowSeconds = deps.clock.now() / 1000;
  if ((iat as number) > nowSeconds + deps.skewSeconds) reject('issued_in_future', 'DPoP proof iat is in the future');
  if ((iat as number) < nowSeconds - deps.iatWindowSeconds - deps.skewSeconds) reject('stale', 'DPoP proof iat is too old');

  if (request.accessToken !== undefined) {
    if (typeof payload.ath !== 'string') reject('missing_claim', 'DPoP proof needs an ath (hash of the access token) at a resource');
    if (payload.ath !== accessTokenHash(request.accessToken)) reject('wrong_ath', 'DPoP proof ath does not match the access token');
  }
  return { jti: jti as string, iat: iat as number };
}

/**
 * RFC 9449 §4.3, every check, in this order: exactly one header; compact JWS; typ; alg allow-list;
 * a public embedded jwk; the signature with that jwk; jti, htm, htu, iat (window plus skew), ath;
 * the bound key (§6); the server nonce (§8); and last, the jti single-use mark (§11.1), kept per key
 * until the proof could no longer pass the iat check.
 */
export async function verifyDpopProof(request: ProofRequest, deps: DpopVerifierDeps): Promise<VerifiedProof> {
  if (request.proofs.length === 0) reject('missing', 'a DPoP proof is required');
  if (request.proofs.length > 1) reject('multiple', 'exactly one DPoP header is allowed');
  const proof = request.proofs[0]!;
  checkHeader(proof, deps.algorithms);

  let payload: JWTPayload;
  let jwk: JWK;
  try {
    const verified = await jwtVerify(proof, EmbeddedJWK, {
      algorithms: deps.algorithms,
      typ: DPOP_JWT_TYPE,
      currentDate: new Date(deps.clock.now()),
      clockTolerance: deps.skewSeconds,
    });
    payload = verified.payload;
    jwk = verified.protectedHeader.jwk as JWK;
  } catch (err) {
    throw fromJose(err);
  }
  const { jti, iat } = checkClaims(payload, request, deps);

  let jkt: string;
  try {
    jkt = await jwkThumbprint(jwk);
  } catch (err) {
    throw fromJose(err);
  }
  if (request.expectedJkt !== undefined && jkt !== request.expectedJkt) reject('wrong_key', 'DPoP proof is not signed by the key the token is bound to');

  if (deps.nonces && (typeof payload.nonce !== 'string' || !deps.nonces.isValid(payload.nonce))) {
    reject('nonce_required', 'DPoP proof must carry the nonce from the DPoP-Nonce header');
  }

  const forgetAtMs = Math.ceil((iat + deps.iatWindowSeconds + deps.skewSeconds) * 1000);
  if ((await deps.store.consumeDpopProof({ jkt, jti, forgetAtMs })) === 'replayed') reject('replayed', 'DPoP proof has already been used (jti)');
  return { jkt, jti, iat };
}
