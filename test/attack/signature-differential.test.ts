import { constants, createHmac, createPublicKey, generateKeyPairSync, KeyObject, sign as nodeSign, type SignKeyObjectInput } from 'node:crypto';
import { beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { compactVerify, exportJWK, exportSPKI, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import {
  checkSignatureStrictly,
  handledHere,
  signatureCheck,
  STRICT_RULES,
  type SignatureCheck,
  type SignatureRules,
  type VerificationKey,
} from '../../src/assertion/signature.js';
import { isCanonicalBase64url, parseStrictJsonObject } from '../../src/assertion/strict-json.js';
import { b64u } from '../support/attack.js';

/**
 * The node:crypto signature check against jose's compactVerify, side by side, over valid tokens
 * and hostile variations (flipped bits, truncated and padded signatures, wrong algorithms, wrong key
 * types, 1024-bit RSA, rsa-pss keys, the token-level attacks of jwt-attacks.test.ts, fast-check
 * mutations). It stops at the first case where:
 *   - the check accepts what jose refuses (on any input at all, but for a `crit` header, which
 *     verifyAssetToken refuses before any signature and jose after it), or
 *   - on a token that passes the checks verifyAssetToken makes before any signature (compact shape,
 *     canonical base64url, strict JSON, no crit/b64/enc/zip), the two decide differently, or
 *   - the check accepts a signature whose length is not the modulus length (ES: r||s of the curve).
 * One difference is expected and asserted as such: OpenSSL, under jose's WebCrypto, accepts an
 * RSASSA-PSS signature one leading zero byte short (RFC 8017 §8.1.2 step 1 says invalid); the check
 * refuses it.
 *
 * SIGNATURE_PLANTED_BUG=rsa-pss|skip-length runs the whole differential with that bug planted in the
 * check's rules, to watch it fail (the last describe block shows the same in-process).
 */

const EVERY_ALG = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const ALLOW_LISTS: string[][] = [EVERY_ALG, ['RS256'], ['ES256', 'PS256']];

interface Case {
  name: string;
  token: string;
  key: VerificationKey;
  allowed: string[];
}

type Outcome = 'accepted' | 'refused';

async function joseDecides(c: Case): Promise<Outcome> {
  try {
    await compactVerify(c.token, c.key as Parameters<typeof compactVerify>[1], { algorithms: c.allowed });
    return 'accepted';
  } catch {
    return 'refused';
  }
}

/** The header's alg as verifyAssetToken hands it over; jose reads it with JSON.parse too. */
function headerAlg(token: string): string | undefined {
  try {
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { alg?: unknown };
    return typeof header.alg === 'string' ? header.alg : undefined;
  } catch {
    return undefined;
  }
}

/** The check as verifyAssetTokenSignature applies it: RS/PS/ES here, anything else through jose. */
async function checkDecides(check: SignatureCheck, c: Case): Promise<Outcome> {
  const alg = headerAlg(c.token);
  if (alg === undefined) return 'refused';
  if (!handledHere(alg)) return joseDecides(c);
  return check(c.token, alg, c.allowed, c.key) === 'valid' ? 'accepted' : 'refused';
}

const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
function headerHasCrit(token: string): boolean {
  try {
    return 'crit' in (JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as object);
  } catch {
    return false;
  }
}

/** What verifyAssetToken refuses before any signature check, whatever the key. */
function passesPreSignatureChecks(token: string): boolean {
  if (!COMPACT.test(token)) return false;
  const [h, p, s] = token.split('.') as [string, string, string];
  if (!isCanonicalBase64url(s)) return false;
  try {
    const header = parseStrictJsonObject(h, { alphabetChecked: true });
    parseStrictJsonObject(p, { alphabetChecked: true });
    return !['crit', 'b64', 'enc', 'zip'].some((name) => name in header);
  } catch {
    return false;
  }
}

/** The signature length the key and alg fix (RFC 8017 §8.1.2 / §8.2.2, RFC 7518 §3.4), if any. */
function requiredSignatureBytes(key: VerificationKey, alg: string): number | undefined {
  const curves: Record<string, number> = { ES256: 64, ES384: 96, ES512: 132 };
  if (curves[alg]) return curves[alg];
  if (!/^(RS|PS)/.test(alg) || key instanceof Uint8Array) return undefined;
  const keyObject = key instanceof KeyObject ? key : KeyObject.from(key as Parameters<typeof KeyObject.from>[0]);
  const bits = keyObject.asymmetricKeyDetails?.modulusLength;
  return bits === undefined ? undefined : Math.ceil(bits / 8);
}

const signatureBytes = (token: string): number => Buffer.from(token.split('.')[2] ?? '', 'base64url').length;

interface Tally {
  cases: number;
  bothAccepted: number;
  bothRefused: number;
  /** jose accepts, the product had refused before the signature (padding, whitespace, spare bits). */
  refusedBeforeSignature: number;
  /** jose (OpenSSL) accepts a PSS signature shorter than the modulus; the check does not. */
  shortPss: number;
  /** jose (Node 22+) accepts an rsa-pss KeyObject for PS*; the check refuses rsa-pss keys. */
  rsaPssRefused: number;
}

class Disagreement extends Error {
  override name = 'Disagreement';
}

async function compare(check: SignatureCheck, c: Case, tally: Tally): Promise<void> {
  tally.cases += 1;
  const jose = await joseDecides(c);
  let mine: Outcome;
  try {
    mine = await checkDecides(check, c);
  } catch (err) {
    throw new Disagreement(`${c.name}: the check threw (${(err as Error).message}); jose ${jose}`);
  }
  const alg = headerAlg(c.token) ?? '';
  const required = requiredSignatureBytes(c.key, alg);
  if (mine === 'accepted' && required !== undefined && signatureBytes(c.token) !== required) {
    throw new Disagreement(`${c.name}: the check accepted a ${signatureBytes(c.token)}-byte signature where ${alg} with this key needs ${required}`);
  }
  if (mine === 'accepted' && jose === 'refused') {
    // jose refuses a `crit` it does not understand (RFC 7515 §4.1.11); verifyAssetToken refuses any
    // `crit` before the signature. Nothing else may pass the check that jose refuses.
    if (passesPreSignatureChecks(c.token) || !headerHasCrit(c.token)) throw new Disagreement(`${c.name}: the check accepted what jose refuses`);
    tally.refusedBeforeSignature += 1;
    return;
  }
  if (mine === jose) {
    if (mine === 'accepted') tally.bothAccepted += 1;
    else tally.bothRefused += 1;
    return;
  }
  // jose accepted, the check refused.
  if (!passesPreSignatureChecks(c.token)) {
    tally.refusedBeforeSignature += 1;
    return;
  }
  if (alg.startsWith('PS') && required !== undefined && signatureBytes(c.token) < required) {
    tally.shortPss += 1;
    return;
  }
  // jose on Node 22+ turns an rsa-pss KeyObject into a CryptoKey for PS*; the check refuses every
  // rsa-pss key by rule (on Node 20 jose cannot import one either).
  if (c.key instanceof KeyObject && c.key.asymmetricKeyType === 'rsa-pss') {
    tally.rsaPssRefused += 1;
    return;
  }
  throw new Disagreement(`${c.name}: jose accepted, the check refused`);
}

// ---------------------------------------------------------------------------------------------
// Keys and tokens

interface Signer {
  alg: string;
  sign(input: Buffer): Buffer;
}

const RSA_HASH: Record<string, string> = { RS256: 'sha256', RS384: 'sha384', RS512: 'sha512', PS256: 'sha256', PS384: 'sha384', PS512: 'sha512', ES256: 'sha256', ES384: 'sha384', ES512: 'sha512' };
const PSS_SALT: Record<string, number> = { PS256: 32, PS384: 48, PS512: 64 };

function signer(alg: string, privateKey: KeyObject): Signer {
  return {
    alg,
    sign(input) {
      if (alg === 'EdDSA') return nodeSign(null, input, privateKey);
      const key: SignKeyObjectInput = { key: privateKey };
      if (alg.startsWith('PS')) Object.assign(key, { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: PSS_SALT[alg] });
      if (alg.startsWith('ES')) Object.assign(key, { dsaEncoding: 'ieee-p1363' });
      return nodeSign(RSA_HASH[alg]!, input, key);
    },
  };
}

function jws(header: Record<string, unknown> | string, payload: Record<string, unknown> | string, s: Signer | ((input: Buffer) => Buffer)): string {
  const h = typeof header === 'string' ? header : b64u(JSON.stringify(header));
  const p = typeof payload === 'string' ? payload : b64u(JSON.stringify(payload));
  const input = `${h}.${p}`;
  const signature = typeof s === 'function' ? s(Buffer.from(input)) : s.sign(Buffer.from(input));
  return `${input}.${signature.toString('base64url')}`;
}

const PAYLOAD = { iss: 'https://issuer.example', aud: ['https://assetgate.example/token'], did: 'dev-1', aid: '02i1', id: '05b1', exp: 2_000_000_000 };

interface KeyPair {
  name: string;
  signer: Signer;
  privateKey: KeyObject;
  /** The forms a verifier may be handed this public key in, each with its name. */
  publics: Array<[string, VerificationKey]>;
}

const nodePair = (type: 'rsa' | 'rsa-pss' | 'ec' | 'ed25519', options: Record<string, unknown>) =>
  generateKeyPairSync(type as 'rsa', options as { modulusLength: number });

async function cryptoKeysFor(jwk: JWK, algs: string[]): Promise<Array<[string, VerificationKey]>> {
  const out: Array<[string, VerificationKey]> = [];
  for (const alg of algs) {
    try {
      out.push([`CryptoKey(${alg})`, (await importJWK(jwk, alg)) as VerificationKey]);
    } catch {
      /* not importable for this alg: nothing to compare */
    }
  }
  return out;
}

let pairs: KeyPair[] = [];
let valid: Array<{ name: string; token: string; pair: KeyPair }> = [];

beforeAll(async () => {
  const rsa2048 = nodePair('rsa', { modulusLength: 2048 });
  const rsa3072 = nodePair('rsa', { modulusLength: 3072 });
  const rsa1024 = nodePair('rsa', { modulusLength: 1024 });
  const pss = nodePair('rsa-pss', { modulusLength: 2048, hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256', saltLength: 32 });
  const pssFree = nodePair('rsa-pss', { modulusLength: 2048 });
  const p256 = nodePair('ec', { namedCurve: 'P-256' });
  const p384 = nodePair('ec', { namedCurve: 'P-384' });
  const p521 = nodePair('ec', { namedCurve: 'P-521' });
  const ed = nodePair('ed25519', {});
  const rsaAlgs = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
  const rsaPublics = async (k: { publicKey: KeyObject; privateKey: KeyObject }) => [
    ['KeyObject', k.publicKey] as [string, VerificationKey],
    ['private KeyObject', k.privateKey] as [string, VerificationKey],
    ...(await cryptoKeysFor(k.publicKey.export({ format: 'jwk' }) as JWK, rsaAlgs)),
  ];
  const ecPublics = async (k: { publicKey: KeyObject }) => [
    ['KeyObject', k.publicKey] as [string, VerificationKey],
    ...(await cryptoKeysFor(k.publicKey.export({ format: 'jwk' }) as JWK, ['ES256', 'ES384', 'ES512'])),
  ];
  pairs = [];
  for (const alg of rsaAlgs) pairs.push({ name: `rsa2048/${alg}`, signer: signer(alg, rsa2048.privateKey), privateKey: rsa2048.privateKey, publics: await rsaPublics(rsa2048) });
  for (const alg of ['RS256', 'PS384']) pairs.push({ name: `rsa3072/${alg}`, signer: signer(alg, rsa3072.privateKey), privateKey: rsa3072.privateKey, publics: await rsaPublics(rsa3072) });
  for (const alg of ['RS256', 'PS256']) pairs.push({ name: `rsa1024/${alg}`, signer: signer(alg, rsa1024.privateKey), privateKey: rsa1024.privateKey, publics: await rsaPublics(rsa1024) });
  // rsa-pss keys: signed with their own PSS parameters, presented under RS256 and PS256.
  for (const [name, k] of [['rsa-pss', pss], ['rsa-pss (no parameters)', pssFree]] as const) {
    for (const alg of ['RS256', 'PS256']) {
      pairs.push({ name: `${name}/${alg}`, signer: { alg, sign: (input) => nodeSign('sha256', input, { key: k.privateKey, saltLength: 32 }) }, privateKey: k.privateKey, publics: [['KeyObject', k.publicKey]] });
    }
  }
  pairs.push({ name: 'p256/ES256', signer: signer('ES256', p256.privateKey), privateKey: p256.privateKey, publics: await ecPublics(p256) });
  pairs.push({ name: 'p384/ES384', signer: signer('ES384', p384.privateKey), privateKey: p384.privateKey, publics: await ecPublics(p384) });
  pairs.push({ name: 'p521/ES512', signer: signer('ES512', p521.privateKey), privateKey: p521.privateKey, publics: await ecPublics(p521) });
  // A P-384 key signing under ES256's name, and a P-256 key under ES384's: the curve decides.
  pairs.push({ name: 'p384/ES256', signer: signer('ES256', p384.privateKey), privateKey: p384.privateKey, publics: await ecPublics(p384) });
  pairs.push({ name: 'p256/ES384', signer: signer('ES384', p256.privateKey), privateKey: p256.privateKey, publics: await ecPublics(p256) });
  const edJwk = ed.publicKey.export({ format: 'jwk' }) as JWK;
  pairs.push({ name: 'ed25519/EdDSA', signer: signer('EdDSA', ed.privateKey), privateKey: ed.privateKey, publics: [['KeyObject', ed.publicKey], ...(await cryptoKeysFor(edJwk, ['EdDSA']))] });
  // jose's own generated keys, as the JWKS cache would import them.
  const joseRsa = await generateKeyPair('RS256', { extractable: true });
  const joseRsaPrivate = KeyObject.from(joseRsa.privateKey as Parameters<typeof KeyObject.from>[0]);
  pairs.push({
    name: 'jose rsa/RS256',
    signer: signer('RS256', joseRsaPrivate),
    privateKey: joseRsaPrivate,
    publics: await cryptoKeysFor(await exportJWK(joseRsa.publicKey), ['RS256', 'PS256']),
  });

  valid = [];
  for (const pair of pairs) {
    for (let i = 0; i < 3; i++) {
      valid.push({ name: `${pair.name} #${i}`, pair, token: jws({ alg: pair.signer.alg, typ: 'JWT', kid: 'k1' }, { ...PAYLOAD, jti: `t${i}` }, pair.signer) });
    }
  }
});

/** Every public form of the signing key, under every allow-list. */
function* againstEveryKey(name: string, token: string, pair: KeyPair, others = true): Generator<Case> {
  const keys = others ? [...pair.publics, ...pairs.filter((p) => p !== pair).slice(0, 4).flatMap((p) => p.publics.slice(0, 1))] : pair.publics;
  for (const [keyName, key] of keys) for (const allowed of ALLOW_LISTS) yield { name: `${name} / ${keyName} / [${allowed.join(',')}]`, token, key, allowed };
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Hostile variations of one valid token (flip, truncate, pad, re-label, splice). */
function variations(token: string, pair: KeyPair, other: string): Array<[string, string]> {
  const [h, p, s] = token.split('.') as [string, string, string];
  const sig = Buffer.from(s, 'base64url');
  const flipChar = (text: string, at: number) => text.slice(0, at) + ALPHABET[(ALPHABET.indexOf(text[at]!) ^ 1) & 63] + text.slice(at + 1);
  const flipByte = (bytes: Buffer, at: number, bit: number) => {
    const copy = Buffer.from(bytes);
    copy[at] = copy[at]! ^ (1 << bit);
    return copy.toString('base64url');
  };
  const relabel = (alg: string) => b64u(JSON.stringify({ alg, typ: 'JWT', kid: 'k1' }));
  const [oh, op, os] = other.split('.') as [string, string, string];
  const out: Array<[string, string]> = [
    ['flipped header char', `${flipChar(h, 5)}.${p}.${s}`],
    ['flipped payload char', `${h}.${flipChar(p, 10)}.${s}`],
    ['flipped first signature bit', `${h}.${p}.${flipByte(sig, 0, 7)}`],
    ['flipped last signature bit', `${h}.${p}.${flipByte(sig, sig.length - 1, 0)}`],
    ['flipped middle signature bit', `${h}.${p}.${flipByte(sig, sig.length >> 1, 3)}`],
    ['signature truncated by one byte', `${h}.${p}.${sig.subarray(0, -1).toString('base64url')}`],
    ['signature without its first byte', `${h}.${p}.${sig.subarray(1).toString('base64url')}`],
    ['signature truncated to half', `${h}.${p}.${sig.subarray(0, sig.length >> 1).toString('base64url')}`],
    ['signature with a leading zero byte', `${h}.${p}.${Buffer.concat([Buffer.alloc(1), sig]).toString('base64url')}`],
    ['signature with a trailing zero byte', `${h}.${p}.${Buffer.concat([sig, Buffer.alloc(1)]).toString('base64url')}`],
    ['signature doubled', `${h}.${p}.${Buffer.concat([sig, sig]).toString('base64url')}`],
    ['signature padded with =', `${h}.${p}.${s}${'='.repeat((4 - (s.length % 4)) % 4 || 4)}`],
    ['signature in standard base64', `${h}.${p}.${sig.toString('base64').replace(/=+$/, '')}`],
    ['signature with a last character of the same bits', `${h}.${p}.${s.slice(0, -1)}${ALPHABET[(ALPHABET.indexOf(s.at(-1)!) & 0b110000) | ((ALPHABET.indexOf(s.at(-1)!) + 1) & 0b001111)]}`],
    ['signature with whitespace', `${h}.${p}.${s.slice(0, 8)} ${s.slice(8)}`],
    ['empty signature', `${h}.${p}.`],
    ['all-zero signature', `${h}.${p}.${Buffer.alloc(sig.length).toString('base64url')}`],
    ['signature of another token', `${h}.${p}.${os}`],
    ['header of another token', `${oh}.${p}.${s}`],
    ['payload of another token', `${h}.${op}.${s}`],
    ['segments swapped', `${p}.${h}.${s}`],
    ['four segments', `${h}.${p}.${s}.${s}`],
    ['two segments', `${h}.${p}`],
    ['empty header', `.${p}.${s}`],
    ['empty payload', `${h}..${s}`],
    ['padded header', `${h}=.${p}.${s}`],
    ['token with leading whitespace', ` ${token}`],
    ['alg none, empty signature', `${b64u('{"alg":"none","typ":"JWT"}')}.${p}.`],
  ];
  for (const alg of [...EVERY_ALG, 'HS256', 'none', 'rs256', 'RS256 ', '__proto__', 'constructor']) {
    if (alg !== pair.signer.alg) out.push([`relabelled ${alg}, signature kept`, `${relabel(alg)}.${p}.${s}`]);
  }
  // Re-signed by the holder of the same private key under every other algorithm of its family.
  for (const alg of EVERY_ALG) {
    if (alg === pair.signer.alg || alg === 'EdDSA' || alg.startsWith('ES') !== pair.signer.alg.startsWith('ES')) continue;
    try {
      // The family's other padding or hash, with the same private key.
      out.push([`re-signed as ${alg}`, jws({ alg, typ: 'JWT', kid: 'k1' }, p, signer(alg, pair.privateKey))]);
    } catch {
      /* an rsa-pss or EC key cannot sign this way at all */
    }
  }
  return out;
}

/** The token-level attacks of jwt-attacks.test.ts: confusion, headers, parsing, segments. */
async function attackCorpus(pair: KeyPair): Promise<Array<[string, string, VerificationKey]>> {
  const rsaPublic = pair.publics[0]![1];
  const pem = rsaPublic instanceof KeyObject && rsaPublic.type === 'public' ? rsaPublic.export({ type: 'spki', format: 'pem' }).toString() : await exportSPKI(rsaPublic as CryptoKey);
  const hmac = (secret: string | Buffer) => (input: Buffer) => createHmac('sha256', secret).update(input).digest();
  const jwk = JSON.stringify(createPublicKey(pem).export({ format: 'jwk' }));
  const secretKey = new Uint8Array(Buffer.from(pem));
  const s = pair.signer;
  return [
    ['HS256 with the PEM public key as secret', jws({ alg: 'HS256', typ: 'JWT' }, PAYLOAD, hmac(pem)), rsaPublic],
    ['HS256 with the PEM public key as secret, secret key given', jws({ alg: 'HS256', typ: 'JWT' }, PAYLOAD, hmac(pem)), secretKey],
    ['HS256 with the JWK public key as secret', jws({ alg: 'HS256', typ: 'JWT' }, PAYLOAD, hmac(jwk)), rsaPublic],
    ['RS256 header, symmetric key handed over', jws({ alg: 'RS256', typ: 'JWT' }, PAYLOAD, s), secretKey],
    ['crit header, validly signed', jws({ alg: s.alg, crit: ['exp'], exp: 1 }, PAYLOAD, s), rsaPublic],
    ['b64 false, validly signed', jws({ alg: s.alg, b64: false, crit: ['b64'] }, PAYLOAD, s), rsaPublic],
    ['jku, x5u, jwk headers, validly signed', jws({ alg: s.alg, jku: 'https://attacker.example/k', x5u: 'https://attacker.example/c', jwk: { kty: 'oct', k: 'AA' } }, PAYLOAD, s), rsaPublic],
    ['alg missing', jws({ typ: 'JWT' }, PAYLOAD, s), rsaPublic],
    ['alg null', jws({ alg: null }, PAYLOAD, s), rsaPublic],
    ['alg a number', jws({ alg: 256 }, PAYLOAD, s), rsaPublic],
    ['alg an array', jws({ alg: [s.alg] }, PAYLOAD, s), rsaPublic],
    ['duplicate alg member', jws(b64u(`{"alg":"HS256","alg":"${s.alg}"}`), PAYLOAD, s), rsaPublic],
    ['header not an object', jws(b64u('[1]'), PAYLOAD, s), rsaPublic],
    ['header not UTF-8', jws(b64u(Buffer.from([0x7b, 0xff, 0x7d])), PAYLOAD, s), rsaPublic],
    ['payload not JSON, validly signed', jws({ alg: s.alg }, b64u('not json'), s), rsaPublic],
    ['JWE shape', `${b64u('{"alg":"RSA-OAEP","enc":"A256GCM"}')}.${b64u('k')}.${b64u('iv')}.${b64u('ct')}.${b64u('tag')}`, rsaPublic],
    ['empty token', '', rsaPublic],
    ['dots only', '..', rsaPublic],
    ['a.b.c', 'a.b.c', rsaPublic],
  ];
}

// ---------------------------------------------------------------------------------------------

const PLANTED: Record<string, SignatureRules> = {
  // Lets node:crypto verify with an rsa-pss key: the key's own PSS parameters decide, not alg.
  'rsa-pss': {
    ...STRICT_RULES,
    usableKey: (key, rule) =>
      key instanceof KeyObject && key.asymmetricKeyType === 'rsa-pss' && rule.family !== 'ECDSA' ? key : STRICT_RULES.usableKey(key, rule),
  },
  // Leaves the length to OpenSSL, which lets a PSS signature one byte short through.
  'skip-length': { ...STRICT_RULES, signatureLengthFits: () => true },
};

function checkUnderTest(): SignatureCheck {
  const planted = process.env.SIGNATURE_PLANTED_BUG;
  if (!planted) return checkSignatureStrictly;
  const rules = PLANTED[planted];
  if (!rules) throw new Error(`SIGNATURE_PLANTED_BUG=${planted}: one of ${Object.keys(PLANTED).join(', ')}`);
  return signatureCheck(rules);
}

const emptyTally = (): Tally => ({ cases: 0, bothAccepted: 0, bothRefused: 0, refusedBeforeSignature: 0, shortPss: 0, rsaPssRefused: 0 });

/** The fixed corpus: valid tokens, their variations, the attack corpus, each against many keys. */
async function fixedCorpus(check: SignatureCheck, tally: Tally): Promise<void> {
  for (const [i, v] of valid.entries()) {
    for (const c of againstEveryKey(`valid ${v.name}`, v.token, v.pair)) await compare(check, c, tally);
    if (i % 3 !== 0) continue; // variations of one token per key pair
    const other = valid[(i + 3) % valid.length]!.token;
    for (const [name, token] of variations(v.token, v.pair, other)) {
      for (const c of againstEveryKey(`${v.name}: ${name}`, token, v.pair, false)) await compare(check, c, tally);
    }
  }
  for (const pair of pairs.filter((p) => /^(rsa2048|jose rsa|p256\/ES256)/.test(p.name))) {
    for (const [name, token, key] of await attackCorpus(pair)) {
      for (const allowed of [...ALLOW_LISTS, [...EVERY_ALG, 'HS256']]) await compare(check, { name: `${pair.name} attack: ${name}`, token, key, allowed }, tally);
    }
  }
}

/** A PSS signature whose first byte is zero, once without that byte: jose accepts it, the check must not. */
function shortPssCase(): Case {
  const pair = pairs.find((p) => p.name === 'rsa2048/PS256')!;
  for (let i = 0; ; i++) {
    const token = jws({ alg: 'PS256', typ: 'JWT' }, { ...PAYLOAD, jti: `short-${i}` }, pair.signer);
    const [h, p, s] = token.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    if (sig[0] === 0) return { name: 'PS256 signature without its leading zero byte', token: `${h}.${p}.${sig.subarray(1).toString('base64url')}`, key: pair.publics[0]![1], allowed: EVERY_ALG };
  }
}

describe('node:crypto signature check against jose compactVerify', () => {
  it('decides like jose over valid tokens, hostile variations, wrong and short keys and the attack corpus', async () => {
    const tally = emptyTally();
    await fixedCorpus(checkUnderTest(), tally);
    // Not vacuous: many accepted, many refused, and the classes the comparison names were met.
    expect(tally.bothAccepted).toBeGreaterThan(100);
    expect(tally.bothRefused).toBeGreaterThan(2000);
    expect(tally.refusedBeforeSignature).toBeGreaterThan(10);
  }, 120_000);

  it('refuses a PSS signature one leading zero byte short, which jose (OpenSSL) accepts (RFC 8017 §8.1.2 step 1)', async () => {
    const c = shortPssCase();
    expect(await joseDecides(c)).toBe('accepted');
    expect(await checkDecides(checkUnderTest(), c)).toBe('refused');
    const tally = emptyTally();
    await compare(checkUnderTest(), c, tally);
    expect(tally.shortPss).toBe(1);
  });

  it('decides like jose over fast-check mutations of valid tokens and arbitrary strings', async () => {
    const check = checkUnderTest();
    const tally = emptyTally();
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), char: fc.constantFrom(...`${ALPHABET}.=+/ `) }),
      fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
      fc.record({ kind: fc.constant('append' as const), text: fc.string({ unit: fc.constantFrom(...`${ALPHABET}.=`), maxLength: 8 }) }),
      fc.record({ kind: fc.constant('flip-signature-bit' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('relabel' as const), alg: fc.constantFrom(...EVERY_ALG, 'HS256', 'none') }),
    );
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.nat(), fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (t, k, a, mutations) => {
        const v = valid[t % valid.length]!;
        let token = v.token;
        for (const m of mutations) {
          if (m.kind === 'replace') {
            const at = m.at % token.length;
            token = token.slice(0, at) + m.char + token.slice(at + 1);
          } else if (m.kind === 'truncate') token = token.slice(0, m.keep % (token.length + 1));
          else if (m.kind === 'append') token += m.text;
          else if (m.kind === 'flip-signature-bit') {
            const [h, p, s = ''] = token.split('.');
            const sig = Buffer.from(s, 'base64url');
            if (sig.length > 0) sig[m.at % sig.length] = sig[m.at % sig.length]! ^ (1 << m.bit);
            token = `${h}.${p}.${sig.toString('base64url')}`;
          } else {
            const rest = token.slice(token.indexOf('.'));
            token = b64u(JSON.stringify({ alg: m.alg, typ: 'JWT' })) + rest;
          }
        }
        const keys = [...v.pair.publics, ...pairs[k % pairs.length]!.publics];
        const [keyName, key] = keys[k % keys.length]!;
        await compare(check, { name: `fast-check ${v.name} ${JSON.stringify(mutations)} / ${keyName}`, token, key, allowed: ALLOW_LISTS[a % ALLOW_LISTS.length]! }, tally);
      }),
      { numRuns: 1500 },
    );
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: fc.constantFrom(...`${ALPHABET}.`), maxLength: 400 }), fc.nat(), async (token, k) => {
        const [keyName, key] = pairs[k % pairs.length]!.publics[0]!;
        await compare(check, { name: `fast-check string ${JSON.stringify(token)} / ${keyName}`, token, key, allowed: EVERY_ALG }, tally);
      }),
      { numRuns: 500 },
    );
    expect(tally.bothRefused).toBeGreaterThan(1000);
  }, 120_000);
});

describe('the differential notices a planted bug', () => {
  it.each(Object.keys(PLANTED))('planted %s: the comparison stops at a disagreement', async (name) => {
    const check = signatureCheck(PLANTED[name]!);
    const run = async () => {
      await compare(check, shortPssCase(), emptyTally());
      await fixedCorpus(check, emptyTally());
    };
    await expect(run()).rejects.toThrow(Disagreement);
  }, 120_000);
});
