import type { JWK, JWTPayload } from 'jose';
import { AssertionRejected } from './rejections.js';

/** How an issuer's claims name the device: see applyClaimsPolicy. */
export const CLAIM_PROFILES = ['salesforce-asset-token', 'generic-jwt'] as const;
export type ClaimProfile = (typeof CLAIM_PROFILES)[number];
/** Asset tokens are Salesforce's unless an issuer says otherwise. */
export const DEFAULT_CLAIM_PROFILE: ClaimProfile = 'salesforce-asset-token';

/** What the rest of the server knows about a verified asset token. Times in seconds. */
export interface AssetClaims {
  iss: string;
  /** The session subject: `did` for asset tokens, else `sub`. */
  subject: string;
  did?: string;
  aid?: string;
  /** `jti`, or Salesforce's `id`. */
  jti: string;
  exp: number;
  iat?: number;
  nbf?: number;
  /** RFC 7800 confirmation key of the device, when the token carries one. */
  cnfJwk?: JWK;
}

export interface ClaimsPolicyContext {
  nowSeconds: number;
  skewSeconds: number;
  maxLifetimeSeconds: number;
  /** salesforce-asset-token (default): subject is `did`, else `sub`; generic-jwt: `sub` is required. */
  profile?: ClaimProfile;
  /** When set, `aid` must be present and listed (the issuer's configured asset allow-list). */
  allowedAssetIds?: ReadonlySet<string>;
}

export const MAX_ID_LENGTH = 256;

/**
 * A non-empty string of at most MAX_ID_LENGTH, well-formed UTF-16: a lone surrogate (the JSON
 * escape \ud800 gets past the UTF-8 check of the raw bytes) becomes U+FFFD wherever the id is
 * written as UTF-8 (Redis keys, hashes, records), so "X\ud800" and "X\udc00" would name one device
 * and one single-use mark.
 */
export const isUsableId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_LENGTH && v.isWellFormed();
const usableId = (v: unknown): string | undefined => (isUsableId(v) ? v : undefined);

/**
 * The session subject, derived here and nowhere else: `sub` under the generic-jwt profile; for asset
 * tokens the device id `did`, else `sub` (RFC 7523 §3 item 2 wants `sub`; asset tokens carry the
 * device in `did`, DOMAIN.md). Undefined when that claim is absent or unusable.
 */
export function subjectOf(payload: JWTPayload, profile: ClaimProfile | undefined): string | undefined {
  if (profile === 'generic-jwt') return usableId(payload.sub);
  return usableId(payload.did) ?? usableId(payload.sub);
}

function optionalString(payload: JWTPayload, name: string): string | undefined {
  const v = payload[name];
  if (v === undefined) return undefined;
  const id = usableId(v);
  if (id === undefined) throw new AssertionRejected('invalid_claim', `assertion claim "${name}" must be a non-empty, well-formed string of at most ${MAX_ID_LENGTH} characters`);
  return id;
}

export interface RegisteredClaimsContext {
  /** The trusted issuer the key came from: `iss` must equal it exactly (RFC 7523 §3 item 1). */
  issuer: string;
  /** Accepted audiences: `aud` (string or array) must contain one of them, exactly (§3 item 3). */
  audiences: readonly string[];
  nowSeconds: number;
  skewSeconds: number;
}

const isNumericDate = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * RFC 7519 §4.1 registered claims of a token whose signature has been verified (pure): iss, aud,
 * exp (required, RFC 7523 §3 item 4), nbf and iat types, with the clock skew allowed either way.
 * The payload is the one parsed strictly before the signature check, so nothing is decoded twice.
 */
export function checkRegisteredClaims(payload: JWTPayload, ctx: RegisteredClaimsContext): void {
  if (payload.iss !== ctx.issuer) throw new AssertionRejected('untrusted_issuer', 'assertion issuer is not trusted');
  const aud = payload.aud;
  const named = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (!named.some((a) => typeof a === 'string' && ctx.audiences.includes(a))) {
    throw new AssertionRejected('wrong_audience', 'assertion audience does not name this server');
  }
  if (!isNumericDate(payload.exp)) throw new AssertionRejected('missing_claim', 'assertion has no valid exp');
  if (payload.exp <= ctx.nowSeconds - ctx.skewSeconds) throw new AssertionRejected('expired', 'assertion has expired');
  if (payload.nbf !== undefined) {
    if (!isNumericDate(payload.nbf)) throw new AssertionRejected('invalid_claim', 'assertion claim "nbf" is invalid');
    if (payload.nbf > ctx.nowSeconds + ctx.skewSeconds) throw new AssertionRejected('not_yet_valid', 'assertion is not yet valid (nbf)');
  }
  if (payload.iat !== undefined && !isNumericDate(payload.iat)) throw new AssertionRejected('invalid_claim', 'assertion iat is invalid');
}

/**
 * Claims checks beyond the registered ones (pure; checkRegisteredClaims already checked iss, aud, exp, nbf):
 * subject profile (did, else sub), single-use id, iat not in the future, bounded lifetime, cnf shape.
 */
export function applyClaimsPolicy(payload: JWTPayload, ctx: ClaimsPolicyContext): AssetClaims {
  const { exp, iat, nbf, iss } = payload;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new AssertionRejected('missing_claim', 'assertion has no valid exp');
  if (typeof iss !== 'string') throw new AssertionRejected('missing_claim', 'assertion has no iss');
  if (iat !== undefined && iat > ctx.nowSeconds + ctx.skewSeconds) {
    throw new AssertionRejected('issued_in_future', 'assertion iat is in the future');
  }
  if (exp - ctx.nowSeconds > ctx.maxLifetimeSeconds) {
    throw new AssertionRejected('lifetime_too_long', 'assertion exp is too far in the future');
  }

  const did = optionalString(payload, 'did');
  optionalString(payload, 'sub'); // present or not, never malformed
  const subject = subjectOf(payload, ctx.profile);
  if (subject === undefined) {
    throw new AssertionRejected('missing_claim', ctx.profile === 'generic-jwt' ? 'assertion has no sub' : 'assertion names no subject (did or sub)');
  }

  const jti = optionalString(payload, 'jti') ?? optionalString(payload, 'id');
  if (jti === undefined) throw new AssertionRejected('missing_claim', 'assertion has no id (jti or id): it cannot be made single-use');

  const aid = optionalString(payload, 'aid');
  if (ctx.allowedAssetIds && (aid === undefined || !ctx.allowedAssetIds.has(aid))) {
    throw new AssertionRejected('asset_not_allowed', 'assertion names an asset this server does not accept', aid);
  }

  let cnfJwk: JWK | undefined;
  if (payload.cnf !== undefined) {
    const cnf = payload.cnf as { jwk?: unknown };
    // RFC 7800 §3.1, §3.2: cnf is a JSON object, its jwk a JWK (an object): arrays are neither.
    const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (!isObject(cnf) || (cnf.jwk !== undefined && !isObject(cnf.jwk))) {
      throw new AssertionRejected('invalid_claim', 'assertion claim "cnf" is malformed');
    }
    cnfJwk = cnf.jwk as JWK | undefined;
  }

  const claims: AssetClaims = { iss, subject, jti, exp };
  if (did !== undefined) claims.did = did;
  if (aid !== undefined) claims.aid = aid;
  if (typeof iat === 'number') claims.iat = iat;
  if (typeof nbf === 'number') claims.nbf = nbf;
  if (cnfJwk) claims.cnfJwk = cnfJwk;
  return claims;
}
