import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('has documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      publicUrl: 'http://localhost:3000',
      tokenEndpoint: 'http://localhost:3000/oauth2/token',
      redis: undefined,
      issuers: [],
      audiences: ['http://localhost:3000', 'http://localhost:3000/oauth2/token'],
      algorithms: ['RS256'],
      clockSkewSeconds: 30,
      accessTokenTtlSeconds: 3600,
      jwks: expect.objectContaining({ cooldownSeconds: 30 }),
      mode: 'development',
    });
    expect(c.ingest.maxBytes).toBe(1024 * 1024);
  });

  it('reads the contract variables', () => {
    const c = loadConfig({
      PORT: '8080',
      PUBLIC_URL: 'https://auth.example.com/',
      REDIS_URL: 'rediss://r.example:6380',
      TRUSTED_ISSUERS: 'https://a.my.site.com, http://127.0.0.1:9000',
      TOKEN_AUDIENCES: 'https://api.example.com',
      CLOCK_SKEW_SECONDS: '5',
      ACCESS_TOKEN_TTL_SECONDS: '600',
      JWKS_COOLDOWN_SECONDS: '10',
    });
    expect(c.publicUrl).toBe('https://auth.example.com');
    expect(c.issuers.map((i) => i.issuer)).toEqual(['https://a.my.site.com', 'http://127.0.0.1:9000']);
    expect(c.audiences).toEqual(['https://api.example.com']);
    expect([c.port, c.clockSkewSeconds, c.accessTokenTtlSeconds, c.jwks.cooldownSeconds]).toEqual([8080, 5, 600, 10]);
  });

  it.each([
    [{ PORT: 'abc' }, /^PORT: /],
    [{ PORT: '70000' }, /^PORT: must be at most 65535/],
    [{ REDIS_URL: 'http://x' }, /^REDIS_URL: must start with redis/],
    [{ REDIS_COMMAND_TIMEOUT_MS: '0' }, /^REDIS_COMMAND_TIMEOUT_MS: /],
    [{ TRUSTED_ISSUERS: 'http://issuer.example.com' }, /^TRUSTED_ISSUERS: .*https/],
    [{ TRUSTED_ISSUERS: 'not a url' }, /^TRUSTED_ISSUERS: .*not a URL/],
    [{ CLOCK_SKEW_SECONDS: '-1' }, /^CLOCK_SKEW_SECONDS: must be at least 0/],
    [{ ASSERTION_ALGORITHMS: 'HS256' }, /^ASSERTION_ALGORITHMS: "HS256"/],
    [{ ASSERTION_ALGORITHMS: 'none' }, /^ASSERTION_ALGORITHMS: "none"/],
    [{ PUBLIC_URL: 'ftp://x' }, /^PUBLIC_URL: /],
  ])('refuses %j with one line naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('refuses production without issuers or Redis', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', REDIS_URL: 'redis://r' })).toThrow(/^TRUSTED_ISSUERS: required in production/);
    expect(() => loadConfig({ NODE_ENV: 'production', TRUSTED_ISSUERS: 'https://a.example' })).toThrow(/^REDIS_URL: required in production/);
    expect(loadConfig({ NODE_ENV: 'production', TRUSTED_ISSUERS: 'https://a.example', REDIS_URL: 'redis://r' }).mode).toBe('production');
  });

  it('reports every problem of a configuration at once, one line each, without knock-on errors', () => {
    let thrown: unknown;
    try {
      loadConfig({ NODE_ENV: 'production', TRUSTED_ISSUERS: 'https://a.example', PORT: 'abc', REDIS_URL: 'http://x', ASSERTION_ALGORITHMS: 'HS256,none' });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    // REDIS_URL is refused for its value; "required in production" would only repeat it.
    expect((thrown as ConfigError).problems).toEqual([
      'PORT: must be a whole number',
      'REDIS_URL: must start with redis:// or rediss://',
      'ASSERTION_ALGORITHMS: "HS256" is not an asymmetric JWS algorithm this server accepts',
      'ASSERTION_ALGORITHMS: "none" is not an asymmetric JWS algorithm this server accepts',
    ]);
    expect((thrown as Error).message.split('\n')).toHaveLength(4);
  });
});
