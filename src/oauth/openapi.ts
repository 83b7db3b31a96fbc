import type { Context } from 'koa';
import type { HeaderObject, OpenAPIObject, ReferenceObject, RequestBodyObject, ResponseObject, ResponsesObject, SchemaObject } from 'openapi3-ts/oas31';
import type { Config } from '../config.js';
import { PATHS, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT } from './constants.js';
import type { GrantRegistry } from './grants/registry.js';

type Schema = SchemaObject;
type Responses = ResponsesObject;

const ref = (name: string): ReferenceObject => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema | ReferenceObject, description: string, headers?: Record<string, HeaderObject>): ResponseObject => ({
  description,
  content: { 'application/json': { schema } },
  ...(headers ? { headers } : {}),
});
const oauthError = (description: string, headers?: Record<string, HeaderObject>) => json(ref('OAuthError'), description, headers);
const challengeHeader = (description: string): Record<string, HeaderObject> => ({
  'WWW-Authenticate': { description, schema: { type: 'string' } },
});
const retryAfter: Record<string, HeaderObject> = { 'Retry-After': { description: 'Seconds before a retry', schema: { type: 'string' } } };

const formErrors: Responses = {
  '400': oauthError('Malformed request, or a body that is not application/x-www-form-urlencoded (RFC 6749 §5.2)'),
  '413': oauthError('Body over the size limit'),
  '415': oauthError('Body sent with a content coding other than identity'),
  '503': oauthError('The token store or an issuer is unreachable; retry', retryAfter),
};
const bearerErrors: Responses = {
  '400': oauthError('Malformed request or Authorization header (RFC 6750 §3.1)', challengeHeader('RFC 6750 Bearer challenge')),
  '401': {
    description: 'No credentials (empty body, bare challenge) or an invalid token (RFC 6750 §3.1)',
    headers: challengeHeader('RFC 6750 Bearer challenge'),
    content: { 'application/json': { schema: ref('OAuthError') } },
  },
  '503': oauthError('The token store or an issuer is unreachable; retry', retryAfter),
};
const clientAuthErrors: Responses = {
  ...formErrors,
  '401': oauthError('invalid_client: missing or wrong client credentials (RFC 6749 §5.2)', challengeHeader('`Basic realm="..."`')),
  '429': oauthError('Too many failed client authentications from this address (RFC 6585 §4)', retryAfter),
};
const tokenForm: RequestBodyObject = {
  required: true,
  content: {
    'application/x-www-form-urlencoded': {
      schema: {
        type: 'object',
        required: ['token'],
        properties: {
          token: { type: 'string', description: 'The access token' },
          token_type_hint: { type: 'string', description: 'Accepted and ignored (RFC 7009 §2.1)' },
          client_id: { type: 'string', description: 'client_secret_post, or matching the Basic credentials' },
          client_secret: { type: 'string', description: 'client_secret_post only' },
        },
      },
    },
  },
};

const schemas: Record<string, Schema> = {
  OAuthError: {
    type: 'object',
    required: ['error'],
    properties: { error: { type: 'string' }, error_description: { type: 'string' } },
  },
  TokenResponse: {
    type: 'object',
    required: ['access_token', 'token_type', 'expires_in'],
    additionalProperties: false,
    properties: {
      access_token: { type: 'string', pattern: '^[A-Za-z0-9_-]{20}\\.[A-Za-z0-9_-]{43}$' },
      token_type: { type: 'string', enum: ['Bearer', 'DPoP'] },
      expires_in: { type: 'integer', minimum: 1 },
      scope: { type: 'string' },
      issued_token_type: { type: 'string', const: TOKEN_TYPE_ACCESS_TOKEN },
    },
  },
  ActiveIntrospection: {
    type: 'object',
    required: ['active', 'token_type', 'exp', 'iat', 'iss', 'sub', 'aud', 'asset_token_issuer'],
    additionalProperties: false,
    properties: {
      active: { const: true },
      token_type: { type: 'string', enum: ['Bearer', 'DPoP'] },
      exp: { type: 'integer' },
      iat: { type: 'integer' },
      iss: { type: 'string', description: 'This server (RFC 8414 issuer)' },
      sub: { type: 'string', description: 'The device: did, else sub' },
      did: { type: 'string' },
      aid: { type: 'string' },
      scope: { type: 'string' },
      aud: { type: 'array', items: { type: 'string' }, description: 'Resource identifiers the session is valid at (RFC 8707)' },
      asset_token_issuer: { type: 'string', description: 'Issuer of the asset token the session came from' },
      cnf: { type: 'object', required: ['jkt'], properties: { jkt: { type: 'string' } }, additionalProperties: false },
    },
  },
  InactiveIntrospection: {
    type: 'object',
    required: ['active'],
    additionalProperties: false,
    properties: { active: { const: false } },
  },
  AuthorizationServerMetadata: {
    type: 'object',
    required: ['issuer', 'token_endpoint', 'response_types_supported', 'grant_types_supported', 'token_endpoint_auth_methods_supported'],
    properties: {
      issuer: { type: 'string', format: 'uri' },
      token_endpoint: { type: 'string', format: 'uri' },
      response_types_supported: { type: 'array', items: { type: 'string' } },
      grant_types_supported: { type: 'array', items: { type: 'string' } },
      token_endpoint_auth_methods_supported: { type: 'array', items: { type: 'string' } },
      introspection_endpoint: { type: 'string', format: 'uri' },
      introspection_endpoint_auth_methods_supported: { type: 'array', items: { type: 'string' } },
      revocation_endpoint: { type: 'string', format: 'uri' },
      revocation_endpoint_auth_methods_supported: { type: 'array', items: { type: 'string' } },
      scopes_supported: { type: 'array', items: { type: 'string' } },
      dpop_signing_alg_values_supported: { type: 'array', items: { type: 'string' } },
      protected_resources: { type: 'array', items: { type: 'string', format: 'uri' }, description: 'RFC 9728 §4: resources sessions are issued for' },
    },
  },
  ProtectedResourceMetadata: {
    type: 'object',
    required: ['resource', 'authorization_servers', 'bearer_methods_supported'],
    additionalProperties: false,
    properties: {
      resource: { type: 'string', format: 'uri', description: 'PUBLIC_URL: the built-in resource (/resource, /ingestapi)' },
      authorization_servers: { type: 'array', items: { type: 'string', format: 'uri' } },
      bearer_methods_supported: { type: 'array', items: { const: 'header' } },
      scopes_supported: { type: 'array', items: { type: 'string' } },
      resource_name: { type: 'string' },
      dpop_signing_alg_values_supported: { type: 'array', items: { type: 'string' } },
      dpop_bound_access_tokens_required: { type: 'boolean' },
    },
  },
  Resource: {
    type: 'object',
    required: ['sub', 'did', 'aid', 'iss', 'scope', 'exp', 'via'],
    properties: {
      sub: { type: 'string' },
      did: { type: ['string', 'null'] },
      aid: { type: ['string', 'null'] },
      iss: { type: 'string' },
      scope: { type: ['string', 'null'] },
      exp: { type: 'integer' },
      via: { type: 'string', enum: ['access_token', 'asset_token'] },
    },
  },
  IngestAccepted: {
    type: 'object',
    required: ['id', 'partition'],
    properties: { id: { type: 'string', pattern: '^\\d+-\\d+$' }, partition: { type: 'integer', minimum: 0, description: 'The stream the event went to: ids are unique within a partition' } },
  },
  DeviceRevocation: {
    type: 'object',
    required: ['iss', 'did', 'revoked_at'],
    additionalProperties: false,
    properties: {
      iss: { type: 'string', description: 'The device\'s issuer' },
      did: { type: 'string' },
      revoked_at: { type: 'integer', description: 'Access tokens issued up to this time are dead' },
      asset_tokens_blocked_before: { type: 'integer', description: 'Asset tokens issued before this time are refused' },
    },
  },
  Health: { type: 'object', required: ['status'], properties: { status: { type: 'string' }, store: { type: 'string' } } },
};

/** The OpenAPI 3.1 description of every endpoint (served at /openapi.json); the grant types are the registry's. */
export function openApiDocument(config: Config, grants: GrantRegistry): OpenAPIObject {
  return {
    openapi: '3.1.0',
    info: {
      title: 'assetgate',
      version: '0.1.0',
      description: 'OAuth 2.0 token exchange for device asset tokens, with introspection, revocation and discovery for resource servers.',
    },
    servers: [{ url: config.publicUrl }],
    components: {
      schemas,
      securitySchemes: {
        clientSecretBasic: { type: 'http', scheme: 'basic', description: 'client_secret_basic (RFC 6749 §2.3.1); client_secret_post is accepted too' },
        accessToken: { type: 'http', scheme: 'bearer', description: 'An assetgate access token, or (bearer sequence) an asset token' },
        adminKey: { type: 'http', scheme: 'bearer', description: 'ADMIN_API_KEY' },
      },
    },
    paths: {
      [PATHS.token]: {
        post: {
          summary: 'Exchange an asset token for an access token (RFC 7523 jwt-bearer, RFC 8693 token exchange)',
          requestBody: {
            required: true,
            content: {
              'application/x-www-form-urlencoded': {
                schema: {
                  type: 'object',
                  required: ['grant_type'],
                  properties: {
                    grant_type: { type: 'string', enum: [...grants.keys()] },
                    assertion: { type: 'string' },
                    subject_token: { type: 'string' },
                    subject_token_type: { type: 'string', const: TOKEN_TYPE_JWT },
                    requested_token_type: { type: 'string', const: TOKEN_TYPE_ACCESS_TOKEN },
                    scope: { type: 'string', description: 'Only scopes the configuration allows for the resources and the device; more is invalid_scope' },
                    resource: {
                      type: 'string',
                      format: 'uri',
                      description: 'RFC 8707: where the session is to be used (repeatable); unknown or malformed is invalid_target. None: DEFAULT_RESOURCES',
                    },
                    audience: { type: 'string', description: 'Token exchange only (RFC 8693 §2.1, repeatable): a resource server\'s configured name or identifier' },
                  },
                },
              },
            },
          },
          responses: {
            '200': json(ref('TokenResponse'), 'Access token (RFC 6749 §5.1), no-store'),
            ...formErrors,
            '400': oauthError('Malformed request (RFC 6749 §5.2), invalid_grant, invalid_scope, or invalid_target for an unknown or malformed resource / audience (RFC 8707 §2)'),
          },
        },
      },
      [PATHS.introspect]: {
        post: {
          summary: 'Token introspection (RFC 7662)',
          security: [{ clientSecretBasic: [] }],
          requestBody: tokenForm,
          responses: {
            '200': json({ oneOf: [ref('ActiveIntrospection'), ref('InactiveIntrospection')] }, 'Token state; anything not active is {"active":false}'),
            ...clientAuthErrors,
          },
        },
      },
      [PATHS.revoke]: {
        post: {
          summary: 'Token revocation (RFC 7009); 200 for unknown tokens too, unsupported_token_type for asset tokens',
          security: [{ clientSecretBasic: [] }],
          requestBody: tokenForm,
          responses: {
            '200': { description: 'Revoked, or nothing to revoke (empty body)' },
            ...clientAuthErrors,
            '400': oauthError('Malformed request, or unsupported_token_type for an asset token, which is not revoked here (RFC 7009 §2.2.1)'),
          },
        },
      },
      '/admin/devices/{did}/revoke': {
        post: {
          summary: 'Device-wide revocation (mounted only when ADMIN_API_KEY is set)',
          security: [{ adminKey: [] }],
          parameters: [{ name: 'did', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 256 } }],
          requestBody: {
            required: false,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  additionalProperties: false,
                  properties: {
                    iss: { type: 'string', minLength: 1, description: 'The device\'s issuer (a device is its issuer plus its id); required when several issuers are trusted' },
                    block_asset_tokens_issued_before: {
                      oneOf: [{ const: 'now' }, { const: 'none' }, { type: 'integer', minimum: 0 }],
                      description: 'Refuse the device\'s asset tokens issued before this time (default "now", for a stolen device); "none" ends the sessions only',
                    },
                  },
                },
              },
            },
          },
          responses: {
            '200': json(ref('DeviceRevocation'), 'The device\'s sessions are revoked'),
            '400': oauthError('Malformed body or device id, an issuer not trusted, or no issuer named while several are trusted'),
            '401': oauthError('Missing (empty body) or wrong admin key', challengeHeader('RFC 6750 Bearer challenge')),
            '404': oauthError('The admin API is disabled (ADMIN_API_KEY unset)'),
            '415': oauthError('Body is not JSON, or sent with a content coding other than identity'),
            '503': oauthError('The token store is unreachable; retry', retryAfter),
          },
        },
      },
      [PATHS.metadata]: {
        get: {
          summary: 'Authorization server metadata (RFC 8414)',
          responses: { '200': json(ref('AuthorizationServerMetadata'), 'Metadata') },
        },
      },
      [PATHS.protectedResource]: {
        get: {
          summary: 'Protected resource metadata of the built-in resource (RFC 9728), named in the resource_metadata parameter of its challenges',
          responses: { '200': json(ref('ProtectedResourceMetadata'), 'Metadata') },
        },
      },
      [PATHS.openapi]: {
        get: { summary: 'This document', responses: { '200': json({ type: 'object', required: ['openapi', 'paths'] }, 'OpenAPI 3.1 document') } },
      },
      [PATHS.resource]: {
        get: {
          summary: 'Who the token says the caller is',
          security: [{ accessToken: [] }],
          responses: { '200': json(ref('Resource'), 'The caller'), ...bearerErrors },
        },
      },
      [PATHS.ingest]: {
        post: {
          summary: 'Append a device event to its partition of the ingest streams',
          security: [{ accessToken: [] }],
          requestBody: { required: true, content: { 'application/json': { schema: {} } } },
          responses: {
            '202': json(ref('IngestAccepted'), 'Stored until the consumers acknowledge it; the partition and its entry id'),
            ...bearerErrors,
            '413': oauthError('Body over the size limit'),
            '415': oauthError('Body is not JSON, or sent with a content coding other than identity'),
            '429': oauthError('The device sent more events or bytes than its window allows; retry after Retry-After', retryAfter),
            '503': oauthError("The device's partition is full (backpressure), or the store is unreachable; retry", retryAfter),
          },
        },
      },
      [PATHS.healthz]: { get: { summary: 'Liveness', responses: { '200': json(ref('Health'), 'Up') } } },
      [PATHS.readyz]: {
        get: { summary: 'Readiness', responses: { '200': json(ref('Health'), 'Ready'), '503': json(ref('Health'), 'Store unreachable', retryAfter) } },
      },
      [PATHS.metrics]: {
        get: {
          summary: 'Prometheus metrics (text exposition format); Bearer METRICS_TOKEN when configured',
          responses: {
            '200': { description: 'Metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
            '401': { description: 'METRICS_TOKEN is set and the request did not present it' },
          },
        },
      },
      [`${PATHS.devIssuer}/id/keys`]: {
        get: {
          summary: 'Development issuer JWKS (only without TRUSTED_ISSUERS)',
          responses: { '200': json({ type: 'object', required: ['keys'], properties: { keys: { type: 'array' } } }, 'JWKS') },
        },
      },
      [`${PATHS.devIssuer}/asset-tokens`]: {
        post: {
          summary: 'Mint a development asset token (only without TRUSTED_ISSUERS)',
          responses: {
            '200': json(
              { type: 'object', required: ['asset_token', 'issuer'], properties: { asset_token: { type: 'string' }, issuer: { type: 'string' } } },
              'A signed asset token',
            ),
            '400': oauthError('Malformed request'),
          },
        },
      },
    },
  };
}

/** GET /openapi.json: built once. */
export function serveOpenApi(config: Config, grants: GrantRegistry) {
  const document = openApiDocument(config, grants);
  return function serveOpenApiMiddleware(ctx: Context): void {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = document;
  };
}
