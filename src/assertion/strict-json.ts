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

/** base64url segment -> bytes; refuses anything that does not re-encode to the same text. */
export function decodeCanonicalBase64url(segment: string): Buffer {
  const bytes = Buffer.from(segment, 'base64url');
  if (bytes.toString('base64url') !== segment) throw new StrictJsonError('segment is not canonical base64url');
  return bytes;
}

/**
 * True when some object in already-valid JSON text names a member twice. Member names are compared
 * after unescaping (`"a"` and `"\u0061"` are the same name).
 */
export function hasDuplicateMemberNames(json: string): boolean {
  // One entry per open container: the names seen so far for objects, null for arrays.
  const open: Array<Set<string> | null> = [];
  let expectName = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      const names = open[open.length - 1];
      if (names && expectName) {
        const name = JSON.parse(json.slice(i, end + 1)) as string;
        if (names.has(name)) return true;
        names.add(name);
        expectName = false;
      }
      i = end;
    } else if (c === '{') {
      open.push(new Set());
      expectName = true;
    } else if (c === '[') {
      open.push(null);
      expectName = false;
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',') {
      expectName = open.length > 0 && open[open.length - 1] !== null;
    }
  }
  return false;
}

/** One JOSE segment -> a JSON object, or StrictJsonError. */
export function parseStrictJsonObject(segment: string): Record<string, unknown> {
  const bytes = decodeCanonicalBase64url(segment);
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
