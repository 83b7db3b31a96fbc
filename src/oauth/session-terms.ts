import type { ResourceCatalog, ResourceServer } from './resources.js';
import { lifetimeCapSeconds } from './resources.js';
import { allowedScopes, grantScope, type IssuerScopePolicy } from './scope-policy.js';

/** What decides where a session is valid, what it may carry and how long it lives (configuration). */
export interface SessionPolicy {
  resources: ResourceCatalog;
  /** Per trusted issuer; an issuer absent here has no issuer-level scope restriction. */
  scopesByIssuer: ReadonlyMap<string, IssuerScopePolicy>;
  accessTokenTtlSeconds: number;
}

/** A token request's wishes: `scope`, and `resource` / `audience` (RFC 8707, RFC 8693 §2.1). */
export interface SessionRequest {
  scope: string | undefined;
  resources: readonly string[];
  audiences: readonly string[];
}

export interface SessionTerms {
  /** Resource identifiers the session is valid at. */
  aud: string[];
  scope: string | undefined;
  /** The longest the session may live, before the assertion's own exp is considered. */
  lifetimeSeconds: number;
}

/** Pure, before the assertion is verified: the resources asked for (invalid_target when unknown or malformed). */
export const targetsOf = (request: SessionRequest, policy: SessionPolicy): ResourceServer[] => policy.resources.targetsOf(request);

/** Pure, once the device is known: the session's audience, scope (invalid_scope beyond policy) and longest life. */
export function sessionTerms(targets: readonly ResourceServer[], request: SessionRequest, device: { iss: string; aid?: string | undefined }, policy: SessionPolicy): SessionTerms {
  const allowed = allowedScopes(targets, policy.scopesByIssuer.get(device.iss), device.aid);
  return {
    aud: targets.map((r) => r.resource),
    scope: grantScope(request.scope, allowed),
    lifetimeSeconds: lifetimeCapSeconds(targets, policy.accessTokenTtlSeconds),
  };
}
