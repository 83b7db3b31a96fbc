import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config.js';
import { GRANT_TOKEN_EXCHANGE } from '../../src/oauth/constants.js';
import type { GrantHandler } from '../../src/oauth/grants/grant.js';
import { grantRegistry } from '../../src/oauth/grants/registry.js';
import { authorizationServerMetadata } from '../../src/oauth/metadata.js';
import { openApiDocument } from '../../src/oauth/openapi.js';

const handler = (grantType: string): GrantHandler => ({ grantType, handle: () => Promise.reject(new Error('not called')) });

describe('discovery lists the grants the registry holds (RFC 8414 §2 grant_types_supported)', () => {
  const config = loadConfig({ NODE_ENV: 'test' });

  it('publishes exactly the registered grant types, in metadata and in the OpenAPI form schema', () => {
    for (const types of [[GRANT_TOKEN_EXCHANGE], [GRANT_TOKEN_EXCHANGE, 'urn:example:grant-type:new']]) {
      const grants = grantRegistry(types.map(handler));
      expect(authorizationServerMetadata(config, grants).grant_types_supported).toEqual(types);
      const form = openApiDocument(config, grants).paths?.['/oauth2/token']?.post?.requestBody as {
        content: Record<string, { schema: { properties: { grant_type: { enum: string[] } } } }>;
      };
      expect(form.content['application/x-www-form-urlencoded']!.schema.properties.grant_type.enum).toEqual(types);
    }
  });
});
