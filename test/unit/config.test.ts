import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../../src/config.js';

const production = { NODE_ENV: 'production', TRUSTED_ISSUERS: 'https://a.example', REDIS_URL: 'redis://r', PUBLIC_URL: 'https://auth.example' };

const problemsOf = (env: Record<string, string | undefined>): string[] => {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('has documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
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
    expect(() => loadConfig({ ...production, TRUSTED_ISSUERS: '' })).toThrow(/^TRUSTED_ISSUERS: required in production/);
    expect(() => loadConfig({ ...production, REDIS_URL: '' })).toThrow(/^REDIS_URL: required in production/);
    expect(() => loadConfig({ NODE_ENV: 'production', TRUSTED_ISSUERS: 'https://a.example', REDIS_URL: 'redis://r' })).toThrow(/^PUBLIC_URL: required in production/);
    expect(loadConfig({ ...production }).mode).toBe('production');
  });

  it('reports every problem of a configuration at once, one line each, without knock-on errors', () => {
    let thrown: unknown;
    try {
      loadConfig({ ...production, PORT: 'abc', REDIS_URL: 'http://x', ASSERTION_ALGORITHMS: 'HS256,none' });
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

describe('what is development', () => {
  it.each(['prod', 'Production', 'PRODUCTION', 'staging', 'dev'])('refuses NODE_ENV=%s instead of running as development', (value) => {
    expect(problemsOf({ ...production, NODE_ENV: value })).toEqual(['NODE_ENV: must be production, development or test (unset: development)']);
  });

  it('runs the development issuer and the activity page on loopback when nothing is configured (npm start on a fresh clone)', () => {
    expect(loadConfig({})).toMatchObject({ mode: 'development', host: '127.0.0.1', devIssuer: true, activityPage: true, issuers: [], redis: undefined });
    expect(loadConfig({ NODE_ENV: 'test' })).toMatchObject({ host: '127.0.0.1', devIssuer: true });
    expect(loadConfig({ HOST: '::1' })).toMatchObject({ host: '::1', devIssuer: true });
    expect(loadConfig(production)).toMatchObject({ host: '0.0.0.0', devIssuer: false, activityPage: false });
  });

  it('refuses the development issuer on a shared store unless asked for by name', () => {
    for (const store of [{ REDIS_URL: 'redis://r' }, { REDIS_CLUSTER_NODES: 'r1:6379' }, { REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'm' }]) {
      expect(problemsOf(store)).toEqual([expect.stringMatching(/^TRUSTED_ISSUERS: required with a shared store .*DEV_ISSUER=on/)]);
      expect(loadConfig({ ...store, DEV_ISSUER: 'on' })).toMatchObject({ devIssuer: true, activityPage: true, host: '127.0.0.1' });
    }
  });

  it('refuses the development issuer beyond loopback unless asked for by name', () => {
    expect(problemsOf({ HOST: '0.0.0.0' })).toEqual([expect.stringMatching(/^TRUSTED_ISSUERS: required when listening beyond loopback \(HOST=0\.0\.0\.0\).*DEV_ISSUER=on/)]);
    expect(loadConfig({ HOST: '0.0.0.0', DEV_ISSUER: 'on' }).devIssuer).toBe(true);
  });

  it('keeps the activity page (device ids, no authentication) off with real issuers, unless asked for by name', () => {
    const real = { TRUSTED_ISSUERS: 'https://a.example' };
    expect(loadConfig(real)).toMatchObject({ mode: 'development', devIssuer: false, activityPage: false });
    expect(loadConfig({ ...real, NODE_ENV: 'test' }).activityPage).toBe(false);
    expect(loadConfig({ ...real, ACTIVITY_PAGE: 'on' }).activityPage).toBe(true);
    expect(loadConfig({ ACTIVITY_PAGE: 'off' })).toMatchObject({ devIssuer: true, activityPage: false });
  });

  it('never runs development tools in production, nor the development issuer beside real ones', () => {
    expect(problemsOf({ ...production, DEV_ISSUER: 'on' })).toEqual(['DEV_ISSUER: must not be on in production']);
    expect(problemsOf({ ...production, ACTIVITY_PAGE: 'on' })).toEqual([expect.stringMatching(/^ACTIVITY_PAGE: must not be on in production/)]);
    expect(problemsOf({ TRUSTED_ISSUERS: 'https://a.example', DEV_ISSUER: 'on' })).toEqual([expect.stringMatching(/^DEV_ISSUER: on replaces the trusted issuers/)]);
    expect(problemsOf({ DEV_ISSUER: 'off' })).toEqual(['TRUSTED_ISSUERS: required with DEV_ISSUER=off']);
    expect(problemsOf({ DEV_ISSUER: 'yes' })).toEqual(['DEV_ISSUER: must be on or off']);
  });

  it('keeps one worker for the development issuer, whose key lives in one process', () => {
    expect(problemsOf({ REDIS_URL: 'redis://r', DEV_ISSUER: 'on', WORKERS: '2' })).toEqual([expect.stringMatching(/^WORKERS: more than one worker needs Redis and TRUSTED_ISSUERS/)]);
  });
});

describe('misspelt variables', () => {
  it('names a variable that looks like a setting, never its value, and does not refuse it', () => {
    const config = loadConfig({ REDIS_ULR: 'redis://:pw-0123456789@r', METRIC_TOKEN: 'metrics-secret-0123456789', TRUSTED_ISSUER: 'https://a.example', log_level: 'debug' });
    expect(config.warnings).toEqual([
      'REDIS_ULR: not a setting; did you mean REDIS_URL? (ignored)',
      'METRIC_TOKEN: not a setting; did you mean METRICS_TOKEN? (ignored)',
      'TRUSTED_ISSUER: not a setting; did you mean TRUSTED_ISSUERS? (ignored)',
      'log_level: not a setting; did you mean LOG_LEVEL? (ignored)',
    ]);
    expect(config.metricsToken).toBeUndefined();
  });

  it('leaves the usual neighbours of a process environment alone', () => {
    const usual = ['HOME', 'PATH', 'PWD', 'OLDPWD', 'USER', 'SHELL', 'TERM', 'LANG', 'HOSTNAME', 'SHLVL', 'NODE_OPTIONS', 'NODE_PATH', 'NODE_VERSION',
      'TEST_REDIS_URL', 'REDIS_HOST', 'REDIS_PORT', 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_PORT', 'ASSETGATE_CONFIG', 'ASSETGATE_URL',
      'ASSETGATE_CLIENT_ID', 'ASSETGATE_CLIENT_SECRET', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'TZ', 'CI', 'YARN_VERSION', 'npm_config_cache',
      'npm_lifecycle_event', 'INIT_CWD', 'EDITOR', 'LOGNAME', 'MAIL', 'DISPLAY', 'COLORTERM'];
    expect(loadConfig(Object.fromEntries(usual.map((name) => [name, 'x']))).warnings).toEqual([]);
  });
});

