import { InvalidScope } from './errors.js';
import type { ResourceServer } from './resources.js';

/** RFC 6749 §3.3 scope-token (NQCHAR). */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * What the configuration lets the devices of one issuer carry. A resource's own list says what may
 * be granted for it at all; this narrows it per issuer, and per asset where the configuration names
 * the asset.
 */
export interface IssuerScopePolicy {
  /** Scopes devices of this issuer may be granted; undefined: the resources' lists alone decide. */
  scopes: readonly string[] | undefined;
  /** Per asset id (`aid`): a listed asset gets exactly these instead of `scopes`. */
  assetScopes: ReadonlyMap<string, readonly string[]> | undefined;
}

/**
 * Pure: the scopes a session for `targets` may carry, for a device of an issuer with `policy` and
 * asset `aid`. A scope must be one some target resource accepts (a scope no resource of the session
 * checks protects nothing and only widens what a leaked token claims) and one the device is
 * entitled to. Nothing is configured: nothing may be granted.
 */
export function allowedScopes(targets: readonly ResourceServer[], policy: IssuerScopePolicy | undefined, aid: string | undefined): Set<string> {
  const entitled = (aid !== undefined ? policy?.assetScopes?.get(aid) : undefined) ?? policy?.scopes;
  const allowed = new Set<string>();
  for (const r of targets) for (const s of r.scopes) if (entitled === undefined || entitled.includes(s)) allowed.add(s);
  return allowed;
}

/**
 * RFC 6749 §3.3: the granted scope string (deduplicated, order kept), or undefined when none was
 * asked. A request for anything beyond `allowed` is refused with invalid_scope rather than granted
 * narrower: a device is a program, and a narrowed session would fail later, at some resource, with
 * insufficient_scope far from the cause; the refusal names the scope and shows up in the token
 * endpoint's metrics.
 */
export function grantScope(requested: string | undefined, allowed: ReadonlySet<string>): string | undefined {
  if (requested === undefined) return undefined;
  if (requested.length > 1024) throw new InvalidScope('scope is malformed');
  const scopes = [...new Set(requested.split(' ').filter((s) => s.length > 0))];
  if (scopes.length === 0) throw new InvalidScope('scope is malformed');
  for (const s of scopes) {
    if (!SCOPE_TOKEN.test(s)) throw new InvalidScope('scope is malformed');
    if (!allowed.has(s)) throw new InvalidScope(`scope "${s}" is not granted to this device for the requested resources`);
  }
  return scopes.join(' ');
}

