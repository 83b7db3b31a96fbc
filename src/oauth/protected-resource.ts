import type { Context, Next } from 'koa';
import { PATHS } from './constants.js';

/**
 * RFC 9728 §3.1: the metadata URL of a resource identifier, the well-known path inserted between the
 * host and the identifier's own path (`https://api.example/v1` -> `https://api.example/.well-known/oauth-protected-resource/v1`).
 */
export function resourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}${PATHS.protectedResource}${path}${url.search}`;
}

/** RFC 9728 §2 members this project publishes. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  /** RFC 6750 §2.1 only: access tokens travel in the Authorization header, never in a body or a query. */
  bearer_methods_supported: string[];
  scopes_supported?: string[];
  resource_name?: string;
  /** RFC 9449 proof algorithms, when the resource takes DPoP-bound tokens. */
  dpop_signing_alg_values_supported?: string[];
  /** True when every access token must be DPoP-bound here. */
  dpop_bound_access_tokens_required?: boolean;
}

export interface ProtectedResourceSettings {
  /** The resource identifier (as configured at assetgate). */
  resource: string;
  /** The authorization server's issuer identifier (assetgate's PUBLIC_URL). */
  authorizationServer: string;
  scopes?: readonly string[] | undefined;
  name?: string | undefined;
  /** DPoP at this resource: the proof algorithms, and whether bound tokens are the only ones taken. */
  dpop?: { algorithms: readonly string[]; boundTokensRequired: boolean } | undefined;
}

/** Pure: the RFC 9728 §2 document. */
export function protectedResourceMetadata(s: ProtectedResourceSettings): ProtectedResourceMetadata {
  const metadata: ProtectedResourceMetadata = {
    resource: s.resource,
    authorization_servers: [s.authorizationServer],
    bearer_methods_supported: ['header'],
  };
  if (s.scopes && s.scopes.length > 0) metadata.scopes_supported = [...s.scopes];
  if (s.name !== undefined) metadata.resource_name = s.name;
  if (s.dpop) {
    metadata.dpop_signing_alg_values_supported = [...s.dpop.algorithms];
    metadata.dpop_bound_access_tokens_required = s.dpop.boundTokensRequired;
  }
  return metadata;
}

/**
 * Middleware serving the document at the resource's well-known path (RFC 9728 §3.1), built once and
 * cacheable; any other request goes on.
 */
export function serveProtectedResourceMetadata(s: ProtectedResourceSettings) {
  const body = protectedResourceMetadata(s);
  const path = new URL(resourceMetadataUrl(s.resource)).pathname;
  return function serveProtectedResourceMetadataMiddleware(ctx: Context, next: Next): Promise<void> {
    if (ctx.path !== path || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = body;
    return Promise.resolve();
  };
}
