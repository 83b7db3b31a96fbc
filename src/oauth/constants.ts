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
  metrics: '/metrics',
} as const;
