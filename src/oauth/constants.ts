/** One source of truth for protocol identifiers. */
export const GRANT_JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'; // RFC 7523 §2.1
export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'; // RFC 8693 §2.1
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt'; // RFC 8693 §3
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';
export const PATHS = {
  token: '/oauth2/token',
  resource: '/resource',
  ingest: '/ingestapi',
  healthz: '/healthz',
  readyz: '/readyz',
  devIssuer: '/dev-issuer',
  introspect: '/oauth2/introspect', // RFC 7662
  revoke: '/oauth2/revoke', // RFC 7009
  metadata: '/.well-known/oauth-authorization-server', // RFC 8414 §3
  protectedResource: '/.well-known/oauth-protected-resource', // RFC 9728 §3
  openapi: '/openapi.json',
  adminDeviceRevoke: '/admin/devices/:did/revoke',
  metrics: '/metrics',
} as const;
/** RFC 8414 §2 names of the client authentication methods offered to resource servers. */
export const CLIENT_AUTH_BASIC = 'client_secret_basic'; // RFC 6749 §2.3.1, HTTP Basic
export const CLIENT_AUTH_POST = 'client_secret_post'; // RFC 6749 §2.3.1, form body
/** RFC 6750 §3 realm of the challenges when none is configured (REALM, the guard's realm). */
export const DEFAULT_REALM = 'assetgate';
