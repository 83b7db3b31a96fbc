import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { loadEffectiveConfig, maskedConfig, readConfigFile } from '../../src/config-file.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { REFERENCE_PATH, renderConfigReference, ENV_DESCRIPTIONS } from '../../src/config-reference.js';
import { EnvSchema } from '../../src/config.js';
import { policyFor } from '../../src/dpop/policy.js';
import { ClientRegistry } from '../../src/oauth/client-auth.js';

const dir = mkdtempSync(join(tmpdir(), 'assetgate-config-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

const YAML = `settings:
  ACCESS_TOKEN_TTL_SECONDS: 900
  LOG_LEVEL: warn
  REDIS_URL: redis://:hunter2hunter2@127.0.0.1:6379
  METRICS_TOKEN: metrics-token-0123456789
issuers:
  - issuer: https://acme.my.site.com/
    audiences: [https://devices.example.com]
    allowed_asset_ids: [02iAAA]
  - issuer: https://login.example.net
    jwks_url: https://login.example.net/jwks.json
    profile: generic-jwt
    algorithms: [ES256]
    proof_of_possession: required
introspection_clients:
  - client_id: gateway
    client_secret_env: GW_SECRET
`;

describe('configuration file', () => {
  it('layers a YAML file under the environment: per-issuer settings, defaults, env wins', () => {
    const path = file('ok.yaml', YAML);
    const config = loadEffectiveConfig({ ASSETGATE_CONFIG: path, LOG_LEVEL: 'debug', GW_SECRET: 'gateway-secret-0123456789' });
    expect(config.configFile).toBe(path);
    expect(config.accessTokenTtlSeconds).toBe(900); // from the file
    expect(config.logLevel).toBe('debug'); // the environment wins
    expect(config.issuers.map((i) => i.issuer)).toEqual(['https://acme.my.site.com', 'https://login.example.net']);
    expect(config.issuers[0]).toEqual({
      issuer: 'https://acme.my.site.com',
      jwksUrl: 'https://acme.my.site.com/id/keys',
      algorithms: ['RS256'],
      audiences: ['https://devices.example.com'],
      profile: 'salesforce-asset-token',
      proofOfPossession: undefined,
      allowedAssetIds: ['02iAAA'],
    });
    expect(config.issuers[1]).toMatchObject({
      jwksUrl: 'https://login.example.net/jwks.json',
      profile: 'generic-jwt',
      algorithms: ['ES256'],
      proofOfPossession: 'required',
      audiences: ['http://localhost:3000', 'http://localhost:3000/oauth2/token'],
    });
    expect(config.introspectionClients).toEqual([{ id: 'gateway', secret: 'gateway-secret-0123456789' }]);
  });

  it('lets TRUSTED_ISSUERS choose the issuers; a file entry only adds settings', () => {
    const path = file('pick.yaml', YAML);
    const config = loadEffectiveConfig(
      { TRUSTED_ISSUERS: 'https://login.example.net,https://other.example.org', GW_SECRET: 'gateway-secret-0123456789' },
      { configFile: path },
    );
    expect(config.issuers.map((i) => [i.issuer, i.profile])).toEqual([
      ['https://login.example.net', 'generic-jwt'],
      ['https://other.example.org', 'salesforce-asset-token'],
    ]);
  });

  it('reads JSON by extension', () => {
    const path = file('ok.json', JSON.stringify({ issuers: [{ issuer: 'https://a.example.com', profile: 'generic-jwt' }] }));
    expect(loadEffectiveConfig({}, { configFile: path }).issuers[0]!.profile).toBe('generic-jwt');
  });

  it.each([
    ['issuers:\n  - issuer: https://a.example.com\n    algorithms: [HS256]\n', /bad\.yaml: issuers\[0\]\.algorithms\[0\]: .*expected one of/],
    ['issuers:\n  - issuer: http://evil.example.com\n', /bad\.yaml: issuers\[0\]\.issuer: .*must use https/],
    ['issuers:\n  - issuer: https://a.example.com\n    profile: saml\n', /bad\.yaml: issuers\[0\]\.profile: .*expected one of "salesforce-asset-token"\|"generic-jwt"/],
    ['issuers:\n  - issuer: https://a.example.com\n    jwks: x\n', /bad\.yaml: issuers\[0\]: Unrecognized key: "jwks"/],
    ['settings:\n  PORTT: 1\n', /bad\.yaml: settings\.PORTT: unknown setting/],
    ['settings:\n  PORT: seventy\n', /bad\.yaml: settings\.PORT: must be a whole number/],
    ['introspection_clients:\n  - client_id: x\n', /bad\.yaml: introspection_clients\[0\]: expected exactly one of client_secret and client_secret_env/],
    ['introspection_clients:\n  - client_id: x\n    client_secret_env: NOT_SET_ANYWHERE\n', /introspection_clients\[0\]\.client_secret_env: environment variable NOT_SET_ANYWHERE is not set/],
    ['issuers: [unclosed\n', /bad\.yaml: not valid YAML: line \d+, column \d+: Flow sequence/],
  ])('names the file, the path inside it and what is expected: %j', (text, message) => {
    const path = file('bad.yaml', text);
    expect(errorOf(() => loadEffectiveConfig({}, { configFile: path }))).toMatch(message);
  });

  it('names the variable, not the file, when the environment holds the bad value', () => {
    const path = file('port.yaml', 'settings:\n  PORT: 8080\n');
    expect(errorOf(() => loadEffectiveConfig({ PORT: 'x' }, { configFile: path }))).toMatch(/^PORT: must be a whole number/);
    expect(loadEffectiveConfig({ PORT: '9090' }, { configFile: path }).port).toBe(9090);
  });

  it('reports every problem of the file and of the environment at once', () => {
    const path = file('many.yaml', 'settings:\n  PORTT: 1\n  METRIC_TOKEN: x\nissuers:\n  - issuer: http://evil.example.com\n  - issuer: https://a.example.com\n    profile: saml\n');
    const lines = errorOf(() => loadEffectiveConfig({ LOG_LEVEL: 'loud', CLOCK_SKEW_SECONDS: '-1' }, { configFile: path })).split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/many\.yaml: issuers\[0\]\.issuer: .*must use https/),
      expect.stringMatching(/many\.yaml: issuers\[1\]\.profile: /),
      expect.stringMatching(/^CLOCK_SKEW_SECONDS: must be at least 0/),
      expect.stringMatching(/^LOG_LEVEL: /),
    ]);
    const settingsOnly = file('settings.yaml', 'settings:\n  PORTT: 1\n  METRIC_TOKEN: x\n');
    expect(errorOf(() => loadEffectiveConfig({}, { configFile: settingsOnly })).split('\n')).toEqual([
      expect.stringMatching(/settings\.PORTT: unknown setting/),
      expect.stringMatching(/settings\.METRIC_TOKEN: unknown setting/),
    ]);
  });

  it('says when the file cannot be read', () => {
    expect(errorOf(() => readConfigFile(join(dir, 'missing.yaml')))).toMatch(/missing\.yaml: cannot be read: ENOENT/);
  });

  it('keeps the env-only contract: no file, same Config as loadConfig(env)', () => {
    const env = { TRUSTED_ISSUERS: 'https://a.example.com', TOKEN_AUDIENCES: 'https://aud', ASSERTION_ALGORITHMS: 'RS256,ES256' };
    const config = loadEffectiveConfig(env);
    expect(config).toEqual(loadConfig(env));
    expect(config.issuers).toEqual([
      {
        issuer: 'https://a.example.com',
        jwksUrl: 'https://a.example.com/id/keys',
        algorithms: ['RS256', 'ES256'],
        audiences: ['https://aud'],
        profile: 'salesforce-asset-token',
        proofOfPossession: undefined,
        allowedAssetIds: undefined,
      },
    ]);
    expect(config.configFile).toBeUndefined();
  });

  it('masks secrets in the effective configuration', () => {
    const path = file('mask.yaml', YAML);
    const shown = JSON.stringify(maskedConfig(loadEffectiveConfig({ GW_SECRET: 'gateway-secret-0123456789' }, { configFile: path })));
    expect(shown).not.toContain('hunter2hunter2');
    expect(shown).not.toContain('gateway-secret-0123456789');
    expect(shown).not.toContain('metrics-token-0123456789');
    expect(shown).toContain('gateway');
    expect(shown).toContain('127.0.0.1:6379');
  });
});

describe('introspection clients from two sources', () => {
  const clients = file('clients.yaml', 'introspection_clients:\n  - client_id: gateway\n    client_secret_env: GW_SECRET\n  - client_id: billing\n    client_secret: billing-secret-0123456789\n');

  it('gives a client defined in the environment and in the file the environment\'s secret', () => {
    const config = loadEffectiveConfig(
      { INTROSPECTION_CLIENTS: 'gateway:env-secret-0123456789', GW_SECRET: 'file-secret-0123456789' },
      { configFile: clients },
    );
    expect(config.introspectionClients).toEqual([
      { id: 'gateway', secret: 'env-secret-0123456789' },
      { id: 'billing', secret: 'billing-secret-0123456789' },
    ]);
    const registry = new ClientRegistry(config.introspectionClients);
    expect(registry.verify('gateway', 'env-secret-0123456789')).toBe(true);
    expect(registry.verify('gateway', 'file-secret-0123456789')).toBe(false);
  });

  it('holds a secret from client_secret_env to the same 16-character minimum, without echoing it', () => {
    const message = errorOf(() => loadEffectiveConfig({ GW_SECRET: 'short-gw-pass' }, { configFile: clients }));
    expect(message).toMatch(/clients\.yaml: introspection_clients\[0\]\.client_secret_env: GW_SECRET must hold at least 16 characters/);
    expect(message).not.toContain('short-gw-pass');
  });

  it('does not take the variable a file names as a secret holder for a misspelt setting', () => {
    const path = file('lookalike.yaml', 'introspection_clients:\n  - client_id: gw\n    client_secret_env: REALMS\n');
    expect(loadEffectiveConfig({ REALMS: 'realm-secret-0123456789' }, { configFile: path }).warnings).toEqual([]);
    expect(loadConfig({ REALMS: 'x' }).warnings).toEqual(['REALMS: not a setting; did you mean REALM? (ignored)']);
  });
});

describe('secrets in configuration errors', () => {
  const SECRET = 'Zq7-secret-marker';
  const long = `${SECRET}-0123456789-0123456789`;
  const production = { NODE_ENV: 'production', TRUSTED_ISSUERS: 'https://a.example', REDIS_URL: 'redis://r', PUBLIC_URL: 'https://auth.example' };

  // Every setting that carries a secret, with values wrong in every way the checks know, and right
  // secrets beside another setting's error.
  const cases: Array<[string, Record<string, string>]> = [
    ['REDIS_URL scheme', { REDIS_URL: `http://:${long}@r:6379` }],
    ['REDIS_URL beside another topology', { REDIS_URL: `redis://:${long}@r:6379`, REDIS_CLUSTER_NODES: 'r1:6379' }],
    ['REDIS_URL in production without issuers', { ...production, REDIS_URL: `redis://:${long}@r:6379`, TRUSTED_ISSUERS: '' }],
    ['REDIS_PASSWORD beside a bad port', { REDIS_PASSWORD: long, PORT: 'x' }],
    ['REDIS_SENTINEL_PASSWORD without a name', { REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_PASSWORD: long }],
    ['ADMIN_API_KEY too short', { ADMIN_API_KEY: SECRET.slice(0, 12) }],
    ['ADMIN_API_KEY outside token68', { ADMIN_API_KEY: `${long} x` }],
    ['DPOP_NONCE_SECRET too short', { DPOP_NONCE_SECRET: SECRET }],
    ['METRICS_TOKEN too short', { METRICS_TOKEN: SECRET.slice(0, 10) + 'x' }],
    ['INTROSPECTION_CLIENTS without an id', { INTROSPECTION_CLIENTS: long }],
    ['INTROSPECTION_CLIENTS with an empty id', { INTROSPECTION_CLIENTS: `:${long}` }],
    ['INTROSPECTION_CLIENTS with a short secret', { INTROSPECTION_CLIENTS: `gw:${SECRET.slice(0, 10)}` }],
    ['INTROSPECTION_CLIENTS with a bad id', { INTROSPECTION_CLIENTS: `g w:${long}` }],
    ['INTROSPECTION_CLIENTS twice', { INTROSPECTION_CLIENTS: `gw:${long},gw:${long}` }],
    ['TRUSTED_ISSUERS with credentials', { TRUSTED_ISSUERS: `https://user:${long}@issuer.example` }],
    ['a misspelt secret setting', { METRIC_TOKEN: long, PORT: 'x' }],
  ];

  it.each(cases)('%s: the error names the setting, never the secret', (_name, env) => {
    const problems: string[] = [];
    try {
      const config = loadConfig(env);
      problems.push(...config.warnings);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      problems.push((err as Error).message);
    }
    expect(problems.join('\n')).toMatch(/^[A-Z_]+: /);
    expect(problems.join('\n')).not.toContain(SECRET.slice(0, 9));
  });

  it.each([
    ['a short client_secret', 'introspection_clients:\n  - client_id: gw\n    client_secret: ' + SECRET.slice(0, 12) + '\n'],
    ['an unknown key beside a secret', 'introspection_clients:\n  - client_id: gw\n    client_secret: ' + long + '\n    secret: ' + long + '\n'],
    ['a YAML syntax error inside a secret', 'introspection_clients:\n  - client_id: gw\n    client_secret: "' + long + '\n'],
    ['a misspelt setting holding a secret', 'settings:\n  METRIC_TOKEN: ' + long + '\n'],
  ])('the file with %s: the error names the path, never the secret', (_name, text) => {
    const path = file('secret.yaml', text);
    expect(errorOf(() => loadEffectiveConfig({}, { configFile: path }))).not.toContain(SECRET.slice(0, 9));
  });

  it('a JSON syntax error next to a secret: line and column, not the text', () => {
    const path = file('secret.json', `{"introspection_clients": [{"client_id": "gw", "client_secret": "${long}" x}]}`);
    const message = errorOf(() => loadEffectiveConfig({}, { configFile: path }));
    expect(message).toMatch(/secret\.json: not valid JSON: line 1, column \d+/);
    expect(message).not.toContain(SECRET.slice(0, 9));
  });
});

describe('the reference says what the code does', () => {
  it('an issuer without proof_of_possession follows PROOF_OF_POSSESSION', () => {
    const path = file('pop.yaml', 'issuers:\n  - issuer: https://a.example.com\n');
    for (const global of ['off', 'optional', 'required'] as const) {
      const config = loadEffectiveConfig({ PROOF_OF_POSSESSION: global }, { configFile: path });
      expect(policyFor(config.issuers[0], config.dpop.proofOfPossession)).toBe(global);
    }
    const row = renderConfigReference().split('\n').find((line) => line.startsWith('| `proof_of_possession` |'));
    expect(row).toContain('Default: PROOF_OF_POSSESSION');
  });
});

describe('configuration reference', () => {
  it('docs/configuration.md is what `npm run docs:config` renders from the schema (run it after changing config)', () => {
    expect(readFileSync(REFERENCE_PATH, 'utf8')).toBe(renderConfigReference());
  });

  it('describes every environment variable', () => {
    expect(Object.keys(EnvSchema.shape).filter((name) => !ENV_DESCRIPTIONS[name])).toEqual([]);
  });
});
