import { InvalidScope } from './errors.js';

/** RFC 6749 §3.3 scope-token (NQCHAR). */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * RFC 6749 §3.3. Returns the granted scope string (deduplicated, order kept) or undefined when none
 * was asked. With a configured list, every requested scope must be on it.
 */
export function grantScope(requested: string | undefined, supported: readonly string[] | undefined): string | undefined {
  if (requested === undefined) return undefined;
  const scopes = [...new Set(requested.split(' ').filter((s) => s.length > 0))];
  if (scopes.length === 0 || requested.length > 1024) throw new InvalidScope('scope is malformed');
  for (const s of scopes) {
    if (!SCOPE_TOKEN.test(s)) throw new InvalidScope('scope is malformed');
    if (supported && !supported.includes(s)) throw new InvalidScope(`scope "${s}" is not supported`);
  }
  return scopes.join(' ');
}
