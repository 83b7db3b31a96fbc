/**
 * Strict decoding of the JOSE header and claims set before any trust decision. JSON.parse silently
 * keeps the last of two equal member names, so `{"alg":"RS256","alg":"none"}` would mean different
 * things to different parsers; RFC 7515 §5.2 item 4 and RFC 7519 §7.2 item 4 let a recipient
 * refuse such input, and RFC 8725 §3.2 asks for it. Bytes must be canonical base64url (no
 * padding, no spare bits: one token string per signature) and valid UTF-8 (RFC 7515 §5.2 item 3).
 */

export class StrictJsonError extends Error {
  override name = 'StrictJsonError';
}

// ignoreBOM keeps a byte order mark in the text, where JSON.parse refuses it (RFC 8259 §8.1).
const FATAL_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * True when the text is the one unpadded base64url encoding of its bytes: only alphabet
 * characters, a length that is not 1 (mod 4), and no bits set in the last character beyond the
 * encoded bytes (RFC 4648 §3.5). The arithmetic form of "re-encodes to the same text", without
 * decoding: the signature segment is checked on every exchange, and a decode would copy it.
 */
export function isCanonicalBase64url(segment: string): boolean {
  return BASE64URL.test(segment) && endsCanonically(segment);
}

/** The length and last-character half of isCanonicalBase64url, for text already known to be in the alphabet. */
export function endsCanonically(segment: string): boolean {
  const rest = segment.length % 4;
  if (rest === 1) return false;
  if (rest === 0) return true;
  const last = BASE64URL_ALPHABET.indexOf(segment[segment.length - 1]!);
  // 2 characters carry 1 byte (4 spare bits), 3 carry 2 bytes (2 spare bits).
  return (last & (rest === 2 ? 0b1111 : 0b11)) === 0;
}

export interface SegmentOptions {
  /** Every character of the segment is known to be in the base64url alphabet. */
  alphabetChecked?: boolean;
}

/**
 * base64url segment -> bytes; refuses anything that is not the canonical encoding of its bytes.
 * With `alphabetChecked`, the caller has matched the whole token against the alphabet already, and
 * only the segment's end is checked (one scan of the token instead of two).
 */
export function decodeCanonicalBase64url(segment: string, options: SegmentOptions = {}): Buffer {
  if (!(options.alphabetChecked ? endsCanonically(segment) : isCanonicalBase64url(segment))) throw new StrictJsonError('segment is not canonical base64url');
  return Buffer.from(segment, 'base64url');
}

// Character codes of JSON's structural characters.
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

/**
 * True when some object in already-valid JSON text names a member twice. Member names are compared
 * after unescaping (`"a"` and `"\u0061"` are the same name).
 */
export function hasDuplicateMemberNames(json: string): boolean {
  // One entry per open container: the names seen so far for objects, null for arrays.
  const open: Array<Set<string> | null> = [];
  let expectName = false;
  // Without a backslash anywhere, every string ends at the next quote: found with indexOf instead of
  // a step per character (a cnf.jwk modulus alone is 342 characters).
  const escapes = json.includes('\\');
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === QUOTE) {
      let end: number;
      let escaped = false;
      if (!escapes) end = json.indexOf('"', i + 1);
      else {
        end = i + 1;
        for (let d = json.charCodeAt(end); d !== QUOTE; d = json.charCodeAt(end)) {
          if (d === BACKSLASH) {
            escaped = true;
            end += 2;
          } else end += 1;
        }
      }
      const names = open[open.length - 1];
      if (names && expectName) {
        // Only a name with escapes needs unescaping (the usual name is its own text).
        const name = escaped ? (JSON.parse(json.slice(i, end + 1)) as string) : json.slice(i + 1, end);
        if (names.has(name)) return true;
        names.add(name);
        expectName = false;
      }
      i = end;
    } else if (c === OPEN_BRACE) {
      open.push(new Set());
      expectName = true;
    } else if (c === OPEN_BRACKET) {
      open.push(null);
      expectName = false;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      open.pop();
    } else if (c === COMMA) {
      expectName = open.length > 0 && open[open.length - 1] !== null;
    }
  }
  return false;
}

/** One JOSE segment -> a JSON object, or StrictJsonError. */
export function parseStrictJsonObject(segment: string, options: SegmentOptions = {}): Record<string, unknown> {
  const bytes = decodeCanonicalBase64url(segment, options);
  let text: string;
  try {
    text = FATAL_UTF8.decode(bytes);
  } catch {
    throw new StrictJsonError('segment is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new StrictJsonError('segment is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new StrictJsonError('segment is not a JSON object');
  if (hasDuplicateMemberNames(text)) throw new StrictJsonError('segment names a member twice');
  return value as Record<string, unknown>;
}
