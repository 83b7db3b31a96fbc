import { customAlphabet } from 'nanoid';
import { deviceTag, ISSUER_KEY_CHARS, issuerKey, shortDigest } from './keys.js';

/**
 * Opaque access tokens: `<device tag><issuer key>.<43 nanoid chars>` (43 x 6 = 258 random bits). The
 * tag routes the lookup to the device's hash slot, the issuer key to its own device's revocation
 * mark (keys.ts); the random part is the secret. Only a sha256 prefix of the whole token is ever
 * stored. Tokens minted before devices were keyed by issuer have no issuer key.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const randomPart = customAlphabet(ALPHABET, 43);
const TAG_CHARS = 12;
const ACCESS_TOKEN_SHAPE = new RegExp(`^[A-Za-z0-9_-]{${TAG_CHARS}}(?:[A-Za-z0-9_-]{${ISSUER_KEY_CHARS}})?\\.[A-Za-z0-9_-]{43}$`);

export interface AccessTokenHandle {
  tag: string;
  /** The issuer key of the token's device; absent in a token minted before schema 5. */
  issuer?: string;
  hash: string;
}

/** A token for the device: its issuer and its subject. */
export function mintAccessToken(device: { iss: string; subject: string }): { token: string; handle: AccessTokenHandle } {
  const tag = deviceTag(device.subject);
  const issuer = issuerKey(device.iss);
  const token = `${tag}${issuer}.${randomPart()}`;
  return { token, handle: { tag, issuer, hash: shortDigest(token) } };
}

/** Null for anything that cannot be one of our access tokens (no store lookup needed). */
export function accessTokenHandle(token: string): AccessTokenHandle | null {
  if (!ACCESS_TOKEN_SHAPE.test(token)) return null;
  const handle: AccessTokenHandle = { tag: token.slice(0, TAG_CHARS), hash: shortDigest(token) };
  if (token[TAG_CHARS] !== '.') handle.issuer = token.slice(TAG_CHARS, TAG_CHARS + ISSUER_KEY_CHARS);
  return handle;
}
