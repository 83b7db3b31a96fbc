import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { adminRevokePath, basicCredentials, runCli } from '../../src/cli/program.js';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { freePort } from '../support/redis-server.js';
import { testRedisUrl, uniquePrefix, plainClient, dropPrefix } from '../support/redis.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Runs the CLI in-process and captures what it prints and its exit code. */
async function cli(args: string[], env: Record<string, string | undefined> = {}) {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (s) => (out += s), err: (s) => (err += s), env, isTty: false });
  return { code, out, err };
}

let dev: Harness;
beforeAll(async () => {
  dev = await startAssetgate({ store: 'memory' });
});
afterAll(async () => {
  await dev.close();
});

describe('assetgate CLI: help and exit codes', () => {
  it('prints help with the exit codes, exit 0', async () => {
    const res = await cli(['--help']);
    expect(res.code).toBe(0);
    for (const command of ['serve', 'migrate', 'config', 'dev', 'introspect', 'revoke-device', 'demo']) expect(res.out).toContain(command);
    expect(res.out).toMatch(/Exit codes:\n {2}0 {2}success\n {2}1 {2}runtime failure.*\n {2}2 {2}usage or configuration error/);
  });

  it.each([['serve'], ['migrate'], ['config', 'check'], ['dev', 'token'], ['introspect'], ['revoke-device'], ['demo']])('has --help on %s', async (...command) => {
    const res = await cli([...command, '--help']);
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/^Usage: assetgate /);
    expect(res.out).toContain('Exit codes:');
  });

  it('says in introspect --help that the client may come from INTROSPECTION_CLIENTS or the file', async () => {
    const res = await cli(['introspect', '--help']);
    expect(res.out).toMatch(/INTROSPECTION_CLIENTS, or introspection_clients in its configuration file/);
  });

  it('exits 2 on usage errors', async () => {
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli(['introspect'])).code).toBe(2); // missing <token>
    expect((await cli(['demo', '--devices', 'many'])).code).toBe(2);
    const noCredentials = await cli(['introspect', 'abc', '--url', dev.url]);
    expect(noCredentials.code).toBe(2);
    expect(noCredentials.err).toMatch(/--client-id/);
  });
});

describe('assetgate config check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'assetgate-cli-'));

  it('prints the effective configuration with secrets masked, exit 0', async () => {
    const path = join(dir, 'ok.yaml');
    writeFileSync(path, 'issuers:\n  - issuer: https://acme.my.site.com\n    profile: generic-jwt\nintrospection_clients:\n  - client_id: gw\n    client_secret: super-secret-introspection-1\n');
    const res = await cli(['config', 'check', '--config', path], { METRICS_TOKEN: 'metrics-secret-0123456789', REDIS_URL: 'redis://:pw-in-url-123@127.0.0.1:6379' });
    expect(res.code).toBe(0);
    const shown = JSON.parse(res.out) as Record<string, unknown>;
    expect((shown.issuers as Array<{ issuer: string }>).map((i) => i.issuer)).toEqual(['https://acme.my.site.com']);
    expect((shown.issuers as Array<{ profile: string }>)[0]!.profile).toBe('generic-jwt');
    expect(res.out).not.toContain('super-secret-introspection-1');
    expect(res.out).not.toContain('metrics-secret-0123456789');
    expect(res.out).not.toContain('pw-in-url-123');
    expect(res.err).toContain('configuration is valid');
  });

  it('names misspelt variables on stderr, without their values, and still validates', async () => {
    const res = await cli(['config', 'check'], { METRIC_TOKEN: 'metrics-secret-0123456789', TRUSTED_ISSUER: 'https://a.example' });
    expect(res.code).toBe(0);
    expect(res.err).toContain('assetgate: warning: METRIC_TOKEN: not a setting; did you mean METRICS_TOKEN? (ignored)');
    expect(res.err).toContain('assetgate: warning: TRUSTED_ISSUER: not a setting; did you mean TRUSTED_ISSUERS? (ignored)');
    expect(res.err + res.out).not.toContain('metrics-secret-0123456789');
  });

  it('prints every problem at once, one line each, exit 2', async () => {
    const res = await cli(['config', 'check'], { PORT: 'x', NODE_ENV: 'prod', REDIS_URL: 'redis://r' });
    expect(res.code).toBe(2);
    expect(res.err.trim().split('\n')).toEqual([
      'assetgate: configuration error: NODE_ENV: must be production, development or test (unset: development)',
      'assetgate: configuration error: PORT: must be a whole number',
      expect.stringMatching(/^assetgate: configuration error: TRUSTED_ISSUERS: required with a shared store/),
    ]);
  });

  it('takes the file from ASSETGATE_CONFIG and prints YAML on request', async () => {
    const path = join(dir, 'env.yaml');
    writeFileSync(path, 'settings:\n  ACCESS_TOKEN_TTL_SECONDS: 120\n');
    const res = await cli(['config', 'check', '--format', 'yaml'], { ASSETGATE_CONFIG: path });
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/^accessTokenTtlSeconds: 120$/m);
  });

  it('exits 2 naming the file and the path inside it', async () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'issuers:\n  - issuer: https://a.example.com\n    proof_of_possession: maybe\n');
    const res = await cli(['config', 'check', '-c', path]);
    expect(res.code).toBe(2);
    expect(res.err).toContain(`configuration error: ${path}: issuers[0].proof_of_possession:`);
    expect(res.err).toMatch(/expected one of "off"\|"optional"\|"required"/);
    expect(res.out).toBe('');
  });

  it('exits 2 on a bad environment variable too', async () => {
    const res = await cli(['config', 'check'], { PORT: 'eighty' });
    expect(res.code).toBe(2);
    expect(res.err).toMatch(/PORT: must be a whole number/);
  });
});

describe('assetgate dev token', () => {
  it('mints an asset token from the running server\'s development issuer that the server then accepts', async () => {
    const res = await cli(['dev', 'token', '--url', dev.url, '--did', 'cli-device-1', '--aid', '02iCLI']);
    expect(res.code).toBe(0);
    const token = res.out.trim();
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({ did: 'cli-device-1', aid: '02iCLI', iss: `${dev.url}/dev-issuer` });
    const exchanged = await postForm(dev.tokenEndpoint, { grant_type: JWT_BEARER, assertion: token });
    expect(exchanged.status).toBe(200);
  });

  it('explains when the server has no development issuer (exit 1)', async () => {
    const prod = await startAssetgate({ env: { TRUSTED_ISSUERS: 'https://issuer.example.com' } });
    try {
      const res = await cli(['dev', 'token', '--url', prod.url]);
      expect(res.code).toBe(1);
      expect(res.err).toMatch(/has no development issuer: it runs with TRUSTED_ISSUERS set or in production/);
    } finally {
      await prod.close();
    }
  });

  it('explains when nothing listens (exit 1)', async () => {
    const res = await cli(['dev', 'token', '--url', `http://127.0.0.1:${await freePort()}`]);
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/cannot reach assetgate at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });
});

describe('assetgate introspect and revoke-device (HTTP clients of the server\'s endpoints)', () => {
  // The introspection and admin endpoints are built on another branch: a stub server stands in and
  // records what the CLI sends.
  let stub: Server;
  let stubUrl: string;
  const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];
  beforeAll(async () => {
    stub = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        res.setHeader('content-type', 'application/json');
        if (req.url === '/oauth2/introspect') {
          if (req.headers.authorization !== basicCredentials('gw client', 'secret:with%chars')) {
            res.writeHead(401).end('{"error":"invalid_client","error_description":"client authentication failed"}');
            return;
          }
          const token = new URLSearchParams(body).get('token');
          res.end(JSON.stringify(token === 'live-token' ? { active: true, sub: 'device-1' } : { active: false }));
        } else if (req.url === adminRevokePath('device/1 ü')) {
          if (req.headers.authorization !== 'Bearer admin-key-0123456789') res.writeHead(401).end('{"error":"invalid_token"}');
          else res.end('{"revoked":true,"did":"device/1 ü"}');
        } else {
          res.writeHead(404).end('{"error":"not_found"}');
        }
      });
    });
    await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
    stubUrl = `http://127.0.0.1:${(stub.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => stub.close(r));
  });

  it('introspects with form-urlencoded Basic credentials (RFC 6749 §2.3.1, RFC 7662)', async () => {
    const res = await cli(['introspect', 'live-token', '--url', stubUrl], { ASSETGATE_CLIENT_ID: 'gw client', ASSETGATE_CLIENT_SECRET: 'secret:with%chars' });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.out)).toEqual({ active: true, sub: 'device-1' });
    const req = seen.at(-1)!;
    expect(req.method).toBe('POST');
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req.body).toBe('token=live-token');
    const decoded = Buffer.from(req.headers.authorization!.slice(6), 'base64').toString();
    expect(decoded).toBe('gw+client:secret%3Awith%25chars');
  });

  it('prints an inactive answer and exits 0; a refused client exits 1 with the OAuth error', async () => {
    const inactive = await cli(['introspect', 'dead-token', '--url', stubUrl, '--client-id', 'gw client', '--client-secret', 'secret:with%chars']);
    expect(inactive.code).toBe(0);
    expect(JSON.parse(inactive.out)).toEqual({ active: false });
    const refused = await cli(['introspect', 'x', '--url', stubUrl, '--client-id', 'gw client', '--client-secret', 'wrong']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('introspection failed: HTTP 401 (invalid_client: client authentication failed)');
  });

  it('revokes a device with the admin bearer key, the did path-encoded', async () => {
    const res = await cli(['revoke-device', 'device/1 ü', '--url', stubUrl], { ADMIN_API_KEY: 'admin-key-0123456789' });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.out)).toEqual({ revoked: true, did: 'device/1 ü' });
    expect(seen.at(-1)!.url).toBe('/admin/devices/device%2F1%20%C3%BC/revoke');
    const wrong = await cli(['revoke-device', 'device/1 ü', '--url', stubUrl, '--admin-key', 'nope']);
    expect(wrong.code).toBe(1);
    expect((await cli(['revoke-device', 'd1', '--url', stubUrl])).code).toBe(2); // no key at all
  });
});

describe('assetgate migrate', () => {
  it('applies the migrations to a fresh prefix, then finds nothing to do', async () => {
    const prefix = uniquePrefix();
    const admin = plainClient();
    try {
      const first = await cli(['migrate'], { REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix });
      expect(first.code).toBe(0);
      expect(first.out).toMatch(/^applied migrations 1/);
      expect(await admin.get(`${prefix}schema`)).not.toBeNull();
      const second = await cli(['migrate'], { REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix });
      expect(second.out).toMatch(/^schema already at \d+/);
    } finally {
      await dropPrefix(admin, prefix);
      admin.disconnect();
    }
  });

  it('needs only the Redis settings in production (not TRUSTED_ISSUERS or PUBLIC_URL)', async () => {
    const prefix = uniquePrefix();
    const admin = plainClient();
    try {
      const res = await cli(['migrate'], { NODE_ENV: 'production', REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix, REDIS_ULR: 'x' });
      expect({ code: res.code, err: res.err }).toEqual({ code: 0, err: 'assetgate: warning: REDIS_ULR: not a setting; did you mean REDIS_URL? (ignored)\n' });
      expect(await admin.get(`${prefix}schema`)).not.toBeNull();
      const noRedis = await cli(['migrate'], { NODE_ENV: 'production' });
      expect(noRedis.code).toBe(2);
      expect(noRedis.err).toMatch(/REDIS_URL: required in production/);
    } finally {
      await dropPrefix(admin, prefix);
      admin.disconnect();
    }
  });

  it('exits 1 when Redis cannot be reached', async () => {
    const res = await cli(['migrate'], { REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/migrate failed: Redis not ready/);
  });
});

describe('assetgate demo', () => {
  it('drives a small fleet through both sequences and prints the summary table', async () => {
    const before = await call(`${dev.url}/dev/activity`);
    const res = await cli(['demo', '--url', dev.url, '--devices', '3', '--events', '2', '--concurrency', '2', '--no-progress']);
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/^3 devices, 27 requests in/);
    for (const step of ['mint', 'exchange', 'resource', 'ingest (access token)', 'ingest (asset token)']) {
      expect(res.out).toMatch(new RegExp(`│ ${step.replace(/[()]/g, '\\$&')} +│ +\\d+ │ +0 │`));
    }
    expect(res.out).toMatch(/│ total +│ +27 │ +0 │/);
    const after = await call(`${dev.url}/dev/activity`);
    const totals = (j: Record<string, unknown>) => j.totals as { ingestViaAccessToken: number; ingestViaAssetToken: number; exchangesIssued: number };
    expect(totals(after.json).ingestViaAccessToken - totals(before.json).ingestViaAccessToken).toBe(6);
    expect(totals(after.json).ingestViaAssetToken - totals(before.json).ingestViaAssetToken).toBe(6);
    expect(totals(after.json).exchangesIssued - totals(before.json).exchangesIssued).toBe(3);
  });

  it('stays on loopback unless told otherwise, and within bounds (exit 2)', async () => {
    const remote = await cli(['demo', '--url', 'http://192.0.2.10:3000', '--no-progress']);
    expect(remote.code).toBe(2);
    expect(remote.err).toMatch(/not a loopback address/);
    const big = await cli(['demo', '--url', dev.url, '--devices', '5000', '--no-progress']);
    expect(big.code).toBe(2);
    expect(big.err).toMatch(/devices must be a whole number from 1 to 1000/);
  });

  it('says clearly when the server has no development issuer', async () => {
    const prod = await startAssetgate({ env: { TRUSTED_ISSUERS: 'https://issuer.example.com' } });
    try {
      const res = await cli(['demo', '--url', prod.url, '--devices', '1', '--events', '1', '--no-progress']);
      expect(res.code).toBe(2);
      expect(res.err).toMatch(/has no development issuer/);
    } finally {
      await prod.close();
    }
  });
});
