import type { JWSHeaderParameters, JWTPayload } from 'jose';
import type { Clock } from '../clock.js';
import { applyClaimsPolicy, checkRegisteredClaims, subjectOf, type AssetClaims, type ClaimsPolicyContext } from './claims-policy.js';
import type { TrustedIssuers } from './issuers.js';
import { IssuerUnavailableError, UnknownKeyError } from './jwks.js';
import { AssertionRejected, rejectionFromJose } from './rejections.js';
import { verifyAssetTokenSignature } from './signature.js';
import { endsCanonically, parseStrictJsonObject, StrictJsonError, type SegmentOptions } from './strict-json.js';

export interface VerifyContext {
  issuers: TrustedIssuers;
  audiences: string[];
  skewSeconds: number;
  maxLifetimeSeconds: number;
  maxTokenBytes: number;
  clock: Clock;
}

/**
 * Header parameters this server refuses outright: `crit` names extensions it would have to
 * understand (RFC 7515 §4.1.11; asset tokens use none), `b64` changes what is signed (RFC 7797),
 * `enc` and `zip` belong to JWE or compression (RFC 8725 §3.6). `jku`, `x5u`, `jwk` and `x5c` are
 * merely ignored: keys come from the configured JWKS only.
 */
const REFUSED_HEADER_PARAMETERS = ['crit', 'b64', 'enc', 'zip'] as const;

// The signature may be empty here so that `alg: none` is refused by the algorithm check by name.
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
// JWS_COMPACT has matched every character against the base64url alphabet: not scanned again.
const ALPHABET_CHECKED: SegmentOptions = { alphabetChecked: true };

function unverifiedParts(token: string, maxBytes: number): { header: JWSHeaderParameters; payload: JWTPayload } {
  if (token.length > maxBytes) throw new AssertionRejected('too_large', 'assertion is too large');
  const parts = token.split('.');
  if (parts.length === 5) throw new AssertionRejected('encrypted', 'encrypted JWTs (JWE) are not accepted');
  if (!JWS_COMPACT.test(token)) throw new AssertionRejected('malformed', 'assertion is not a compact JWS (three base64url parts)');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  try {
    const header = parseStrictJsonObject(headerPart, ALPHABET_CHECKED) as JWSHeaderParameters;
    const payload = parseStrictJsonObject(payloadPart, ALPHABET_CHECKED) as JWTPayload;
    if (!endsCanonically(signaturePart)) throw new StrictJsonError('signature is not canonical base64url');
    return { header, payload };
  } catch (err) {
    if (err instanceof StrictJsonError) throw new AssertionRejected('malformed', 'assertion is not a well-formed signed JWT', err.message);
    throw err;
  }
}

/**
 * RFC 7519 §7.2 + RFC 7523 §3 + RFC 8725, in this order: shape and strict decoding; header (typ,
 * refused parameters, alg allow-list); the issuer named by `iss` must be trusted (no fetch
 * otherwise: no SSRF); the key comes from that issuer's JWKS only (`jku`, `x5u`, `jwk` headers are
 * never followed); the signature (signature.ts); then iss, aud, exp, nbf, iat with skew, and the
 * claims policy, on the payload decoded once.
 */
export async function verifyAssetToken(token: string, ctx: VerifyContext): Promise<AssetClaims> {
  const { header, payload } = unverifiedParts(token, ctx.maxTokenBytes);
  // RFC 7515 §4.1.9: typ is a string. Tested as one only: a regex turns ["JWT"] into "JWT", and
  // {"toString":""} into a TypeError (a 500 from an unsigned header).
  if (header.typ !== undefined && (typeof header.typ !== 'string' || !/^(application\/)?jwt$/i.test(header.typ))) {
    throw new AssertionRejected('bad_header', 'assertion typ must be JWT');
  }
  const refused = REFUSED_HEADER_PARAMETERS.find((name) => name in header);
  if (refused) throw new AssertionRejected('bad_header', `assertion header parameter "${refused}" is not accepted`);
  if (typeof payload.iss !== 'string') throw new AssertionRejected('missing_claim', 'assertion has no iss');
  const issuer = ctx.issuers.get(payload.iss);
  if (!issuer) throw new AssertionRejected('untrusted_issuer', 'assertion issuer is not trusted', payload.iss.slice(0, 200));
  if (typeof header.alg !== 'string' || !issuer.algorithms.includes(header.alg)) {
    throw new AssertionRejected('alg_not_allowed', 'assertion algorithm is not allowed', JSON.stringify(header.alg)); // parsed JSON, so printable; String() throws on {"toString":0} (a 500)
  }

  let key;
  try {
    key = await issuer.keys.getKey(header);
  } catch (err) {
    if (err instanceof UnknownKeyError) throw new AssertionRejected('unknown_key', 'assertion key is not one of the issuer\'s keys', err.message);
    if (err instanceof IssuerUnavailableError) throw err;
    throw rejectionFromJose(err);
  }

  // The signature, by the algorithm the allow-list admitted (signature.ts); the claims were parsed
  // strictly above from the very bytes the signature covers, and are checked without a re-parse.
  await verifyAssetTokenSignature(token, header.alg, issuer.algorithms, key);
  const nowSeconds = Math.floor(ctx.clock.now() / 1000);
  const policy: ClaimsPolicyContext = { nowSeconds, skewSeconds: ctx.skewSeconds, maxLifetimeSeconds: ctx.maxLifetimeSeconds };
  if (issuer.profile) policy.profile = issuer.profile;
  if (issuer.allowedAssetIds) policy.allowedAssetIds = issuer.allowedAssetIds;
  try {
    checkRegisteredClaims(payload, { issuer: issuer.issuer, audiences: issuer.audiences ?? ctx.audiences, nowSeconds, skewSeconds: ctx.skewSeconds });
    return applyClaimsPolicy(payload, policy);
  } catch (err) {
    // The signature checked out, so the subject is the issuer's word: per-device failure limits may
    // use it, derived as for an accepted token (the issuer's claims profile).
    if (err instanceof AssertionRejected) {
      err.verified = true;
      err.subject ??= subjectOf(payload, issuer.profile);
      err.iss ??= issuer.issuer;
    }
    throw err;
  }
}
