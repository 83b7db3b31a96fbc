import { customAlphabet } from 'nanoid';
import { deviceTag, shortDigest } from './keys.js';

/**
 * Opaque access tokens: `<device tag>.<43 nanoid chars>` (43 x 6 = 258 random bits). The tag only
 * routes the lookup to the device's hash slot; the random part is the secret. Only a sha256 prefix of
 * the whole token is ever stored (keys.ts).
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const randomPart = customAlphabet(ALPHABET, 43);
const ACCESS_TOKEN_SHAPE = /^[A-Za-z0-9_-]{12}\.[A-Za-z0-9_-]{43}$/;

export interface AccessTokenHandle {
  tag: string;
  hash: string;
}

export function mintAccessToken(subject: string): { token: string; handle: AccessTokenHandle } {
  const tag = deviceTag(subject);
  const token = `${tag}.${randomPart()}`;
  return { token, handle: { tag, hash: shortDigest(token) } };
}

/** Null for anything that cannot be one of our access tokens (no store lookup needed). */
export function accessTokenHandle(token: string): AccessTokenHandle | null {
  if (!ACCESS_TOKEN_SHAPE.test(token)) return null;
  return { tag: token.slice(0, 12), hash: shortDigest(token) };
}
