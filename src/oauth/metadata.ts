import type { Context } from 'koa';
import type { Config } from '../config.js';
import { dpopSigningAlgValuesSupported } from '../dpop/metadata.js';
import { CLIENT_AUTH_BASIC, CLIENT_AUTH_POST, PATHS } from './constants.js';
import type { GrantRegistry } from './grants/registry.js';

/** RFC 8414 §2 members this server publishes. */
export interface AuthorizationServerMetadata {
  issuer: string;
  token_endpoint: string;
  /** §2 REQUIRED; this server has no authorization endpoint, so it supports none. */
  response_types_supported: string[];
  grant_types_supported: string[];
  /** Devices authenticate with their asset token, not as OAuth clients (RFC 7523 §3.1). */
  token_endpoint_auth_methods_supported: string[];
  introspection_endpoint?: string;
  introspection_endpoint_auth_methods_supported?: string[];
  revocation_endpoint?: string;
  revocation_endpoint_auth_methods_supported?: string[];
  scopes_supported?: string[];
  /** RFC 9449 §5.1; omitted when proof of possession is off everywhere. */
  dpop_signing_alg_values_supported?: string[];
  /** RFC 9728 §4: the resources sessions are issued for (`resource` values the token endpoint takes, RFC 8707). */
  protected_resources: string[];
}

/**
 * Pure: the metadata document. The grant types are the ones the registry holds (a grant added there
 * is published here); the introspection and revocation endpoints are listed only when clients are
 * configured that could call them.
 */
export function authorizationServerMetadata(config: Config, grants: GrantRegistry): AuthorizationServerMetadata {
  const base = config.publicUrl;
  const metadata: AuthorizationServerMetadata = {
    issuer: base,
    token_endpoint: config.tokenEndpoint,
    response_types_supported: [],
    grant_types_supported: [...grants.keys()],
    token_endpoint_auth_methods_supported: ['none'],
    protected_resources: [config.resources.builtin, ...config.resources.servers].map((r) => r.resource),
  };
  if (config.introspectionClients.length > 0) {
    metadata.introspection_endpoint = `${base}${PATHS.introspect}`;
    metadata.introspection_endpoint_auth_methods_supported = [CLIENT_AUTH_BASIC, CLIENT_AUTH_POST];
    metadata.revocation_endpoint = `${base}${PATHS.revoke}`;
    metadata.revocation_endpoint_auth_methods_supported = [CLIENT_AUTH_BASIC, CLIENT_AUTH_POST];
  }
  const scopes = new Set([config.resources.builtin, ...config.resources.servers].flatMap((r) => r.scopes));
  if (scopes.size > 0) metadata.scopes_supported = [...scopes];
  if (config.dpop.proofOfPossession !== 'off') Object.assign(metadata, dpopSigningAlgValuesSupported(config.dpop.algorithms));
  return metadata;
}

/** GET /.well-known/oauth-authorization-server (RFC 8414 §3): built once, cacheable. */
export function serveMetadata(config: Config, grants: GrantRegistry) {
  const body = authorizationServerMetadata(config, grants);
  return function serveMetadataMiddleware(ctx: Context): void {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = body;
  };
}
