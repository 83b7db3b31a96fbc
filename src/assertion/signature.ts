import { constants, KeyObject, verify as nodeVerify, type VerifyKeyObjectInput } from 'node:crypto';
import { compactVerify, type CryptoKey } from 'jose';
import { AssertionRejected, rejectionFromJose } from './rejections.js';
import { isCanonicalBase64url } from './strict-json.js';

/**
 * The JWS signature check of an asset token with node:crypto's synchronous `verify`, where jose 6
 * goes through WebCrypto (an asynchronous job per check on Node: about 3-4x the CPU for RS256).
 * jose still fetches, selects and imports the keys, and still checks EdDSA. Everything jose checks
 * before it lets WebCrypto verify is checked here, by rule, before `crypto.verify` sees a byte:
 *
 * - the algorithm is one of the issuer's allow-list, and one this table knows (RFC 8725 §3.1);
 * - the key is public and of the algorithm's family: an `rsa` key for RS* and PS*, never an
 *   `rsa-pss` key (whose own parameters would decide the padding, not `alg`), the named curve
 *   of ES*; a CryptoKey must have been imported for exactly this algorithm and hash, as jose asks;
 * - RSA moduli of at least 2048 bits (RFC 7518 §3.3, §3.5);
 * - the signature is exactly as long as the modulus (RFC 8017 §8.2.2 and §8.1.2 step 1: OpenSSL
 *   accepts a PSS signature one leading zero byte short, a second encoding of the same signature),
 *   or, for ECDSA, the raw r||s of the curve's size (RFC 7518 §3.4), converted by node:crypto's
 *   `dsaEncoding: 'ieee-p1363'`;
 * - the signing input is the first two segments exactly as received (RFC 7515 §5.2 step 8), of the
 *   base64url alphabet, and the signature segment canonical base64url.
 */

/** What jose's key import hands out (a Uint8Array for symmetric JWKs, which never verify here). */
export type VerificationKey = CryptoKey | KeyObject | Uint8Array;

/** One algorithm's rule: how to verify, and what a key for it looks like. */
export interface AlgorithmRule {
  alg: string;
  hash: 'sha256' | 'sha384' | 'sha512';
  family: 'RSASSA-PKCS1-v1_5' | 'RSA-PSS' | 'ECDSA';
  /** PS*: the salt is as long as the hash (RFC 7518 §3.5). */
  saltLength?: number;
  /** ES*: the curve (JOSE / WebCrypto name, OpenSSL name) and the raw signature length (r||s). */
  curve?: { jose: string; openssl: string; signatureBytes: number };
}

const rsa = (alg: string, hash: AlgorithmRule['hash']): AlgorithmRule => ({ alg, hash, family: 'RSASSA-PKCS1-v1_5' });
const pss = (alg: string, hash: AlgorithmRule['hash'], saltLength: number): AlgorithmRule => ({ alg, hash, family: 'RSA-PSS', saltLength });
const ecdsa = (alg: string, hash: AlgorithmRule['hash'], jose: string, openssl: string, signatureBytes: number): AlgorithmRule => ({
  alg,
  hash,
  family: 'ECDSA',
  curve: { jose, openssl, signatureBytes },
});

/** A Map, not an object: `__proto__` or `constructor` as `alg` finds nothing. */
const RULES: ReadonlyMap<string, AlgorithmRule> = new Map(
  [
    rsa('RS256', 'sha256'),
    rsa('RS384', 'sha384'),
    rsa('RS512', 'sha512'),
    pss('PS256', 'sha256', 32),
    pss('PS384', 'sha384', 48),
    pss('PS512', 'sha512', 64),
    ecdsa('ES256', 'sha256', 'P-256', 'prime256v1', 64),
    ecdsa('ES384', 'sha384', 'P-384', 'secp384r1', 96),
    ecdsa('ES512', 'sha512', 'P-521', 'secp521r1', 132),
  ].map((rule) => [rule.alg, rule]),
);

const MIN_RSA_MODULUS_BITS = 2048;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const WEBCRYPTO_HASH = { sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' } as const;

/** What the check decided. `key_unusable`: the key may not verify this algorithm (type, family, size). */
export type SignatureVerdict = 'valid' | 'invalid' | 'malformed' | 'alg_not_allowed' | 'key_unusable';

/**
 * The rules the verdict applies to key and signature, as two pure functions: the differential
 * test swaps one for a deliberately wrong one to show that it notices.
 */
export interface SignatureRules {
  /** The key as node:crypto verifies with it, or undefined when it may not verify `rule.alg`. */
  usableKey(key: VerificationKey, rule: AlgorithmRule): KeyObject | undefined;
  /** Whether the decoded signature has the length the key and algorithm fix. */
  signatureLengthFits(signature: Buffer, key: KeyObject, rule: AlgorithmRule): boolean;
}


/** Imported once per CryptoKey: the JWKS cache hands out the same CryptoKey until the keys rotate. */
const keyObjects = new WeakMap<CryptoKey, KeyObject>();

function rsaModulusBits(key: KeyObject): number {
  return key.asymmetricKeyDetails?.modulusLength ?? 0;
}

/** jose's own conditions on a CryptoKey (algorithm name, hash, curve, usage), then node's view of it. */
function usableCryptoKey(key: CryptoKey, rule: AlgorithmRule): KeyObject | undefined {
  if (key.type !== 'public' || !key.usages.includes('verify')) return undefined;
  const algorithm = key.algorithm as { name?: unknown; hash?: { name?: unknown }; namedCurve?: unknown };
  if (algorithm.name !== rule.family) return undefined;
  if (rule.curve ? algorithm.namedCurve !== rule.curve.jose : algorithm.hash?.name !== WEBCRYPTO_HASH[rule.hash]) return undefined;
  let keyObject = keyObjects.get(key);
  if (!keyObject) {
    keyObject = KeyObject.from(key);
    keyObjects.set(key, keyObject);
  }
  return usableKeyObject(keyObject, rule);
}

function usableKeyObject(key: KeyObject, rule: AlgorithmRule): KeyObject | undefined {
  if (key.type !== 'public') return undefined;
  if (rule.curve) {
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === rule.curve.openssl ? key : undefined;
  }
  // `rsa` only: an `rsa-pss` key carries its own padding restrictions, which `alg` must decide.
  return key.asymmetricKeyType === 'rsa' && rsaModulusBits(key) >= MIN_RSA_MODULUS_BITS ? key : undefined;
}

export const STRICT_RULES: SignatureRules = {
  usableKey: (key, rule) => {
    if (key instanceof KeyObject) return usableKeyObject(key, rule);
    return key instanceof Uint8Array ? undefined : usableCryptoKey(key, rule);
  },
  signatureLengthFits: (signature, key, rule) =>
    signature.length === (rule.curve ? rule.curve.signatureBytes : Math.ceil(rsaModulusBits(key) / 8)),
};

/** The algorithms checked here; any other allowed one (EdDSA) is left to jose. */
export const handledHere = (alg: string): boolean => RULES.has(alg);

export type SignatureCheck = (token: string, alg: string, allowed: readonly string[], key: VerificationKey) => SignatureVerdict;

/** The verdict for one compact JWS whose header named `alg` (the caller has parsed it). */
export function signatureCheck(rules: SignatureRules): SignatureCheck {
  return (token, alg, allowed, key) => {
    if (!allowed.includes(alg)) return 'alg_not_allowed';
    const rule = RULES.get(alg);
    if (!rule) return 'alg_not_allowed';
    const headerEnd = token.indexOf('.');
    const inputEnd = headerEnd === -1 ? -1 : token.indexOf('.', headerEnd + 1);
    if (headerEnd <= 0 || inputEnd <= headerEnd + 1 || token.includes('.', inputEnd + 1)) return 'malformed';
    const signingInput = token.slice(0, inputEnd);
    const signaturePart = token.slice(inputEnd + 1);
    if (!BASE64URL.test(token.slice(0, headerEnd)) || !BASE64URL.test(token.slice(headerEnd + 1, inputEnd))) return 'malformed';
    if (!isCanonicalBase64url(signaturePart)) return 'malformed';
    const keyObject = rules.usableKey(key, rule);
    if (!keyObject) return 'key_unusable';
    const signature = Buffer.from(signaturePart, 'base64url');
    if (!rules.signatureLengthFits(signature, keyObject, rule)) return 'invalid';
    const verifyKey: VerifyKeyObjectInput =
      rule.family === 'RSA-PSS'
        ? { key: keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: rule.saltLength! }
        : rule.family === 'ECDSA'
          ? { key: keyObject, dsaEncoding: 'ieee-p1363' }
          : { key: keyObject, padding: constants.RSA_PKCS1_PADDING };
    // The alphabet was checked: latin1 is the segments' ASCII bytes, one per character.
    return nodeVerify(rule.hash, Buffer.from(signingInput, 'latin1'), verifyKey, signature) ? 'valid' : 'invalid';
  };
}

export const checkSignatureStrictly: SignatureCheck = signatureCheck(STRICT_RULES);

const REJECTIONS: Record<Exclude<SignatureVerdict, 'valid'>, () => AssertionRejected> = {
  invalid: () => new AssertionRejected('bad_signature', 'assertion signature is invalid'),
  malformed: () => new AssertionRejected('malformed', 'assertion is not a well-formed signed JWT', 'signature segment'),
  alg_not_allowed: () => new AssertionRejected('alg_not_allowed', 'assertion algorithm is not allowed'),
  key_unusable: () => new AssertionRejected('unknown_key', 'assertion key cannot verify its algorithm', 'key type, curve or RSA size'),
};

/**
 * Throws the rejection unless the signature of `token`, made with `alg` (from its header, already
 * on the issuer's allow-list), verifies with `key`. RS*, PS* and ES* by the rules above; anything
 * else the allow-list permits (EdDSA) through jose's `compactVerify`.
 */
export async function verifyAssetTokenSignature(token: string, alg: string, allowed: readonly string[], key: VerificationKey): Promise<void> {
  if (!handledHere(alg)) {
    try {
      await compactVerify(token, key, { algorithms: [...allowed] });
    } catch (err) {
      throw rejectionFromJose(err);
    }
    return;
  }
  const verdict = checkSignatureStrictly(token, alg, allowed, key);
  if (verdict !== 'valid') throw REJECTIONS[verdict]();
}
