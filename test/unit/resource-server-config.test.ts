import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { deviceRevocationPlan } from '../../src/admin/device-revocation.js';
import { ConfigError, loadConfig, parseClientCredentials } from '../../src/config.js';
import { ClientRegistry, parseBasicCredentials, secretMatches } from '../../src/oauth/client-auth.js';
import { basicAuthorization, claimsOfIntrospection } from '../../src/guard/introspection-resolver.js';

describe('INTROSPECTION_CLIENTS and ADMIN_API_KEY', () => {
  it('parses id:secret pairs (the secret may hold ":")', () => {
    expect(parseClientCredentials('a:0123456789abcdef, b:p@ss:w+rd/=%&~0123456789')).toEqual([
      { id: 'a', secret: '0123456789abcdef' },
      { id: 'b', secret: 'p@ss:w+rd/=%&~0123456789' },
    ]);
    expect(parseClientCredentials(undefined)).toEqual([]);
  });

  it('names the variable, never the secret, in errors', () => {
    const cases = ['a', 'a:short-secret', ':0123456789abcdef', 'a:0123456789abcdef,a:0123456789abcdeg', 'a b:0123456789abcdef'];
    for (const value of cases) {
      let thrown: unknown;
      try {
        loadConfig({ INTROSPECTION_CLIENTS: value });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      const message = (thrown as Error).message;
      expect(message).toMatch(/^INTROSPECTION_CLIENTS: /);
      expect(message).not.toMatch(/0123456789abcde|short-secret/);
    }
    expect(() => loadConfig({ ADMIN_API_KEY: 'too-short' })).toThrow(/^ADMIN_API_KEY: /);
    expect(loadConfig({ ADMIN_API_KEY: 'k'.repeat(32) }).adminApiKey).toBe('k'.repeat(32));
  });
});

describe('client authentication primitives', () => {
  it('compares fixed-length digests: secrets of any length are compared without throwing', () => {
    const expected = createHash('sha256').update('right-secret-0123').digest();
    expect(secretMatches('right-secret-0123', expected)).toBe(true);
    for (const wrong of ['', 'r', 'right-secret-012', 'right-secret-01234', 'x'.repeat(10_000)]) expect(secretMatches(wrong, expected)).toBe(false);
    const registry = new ClientRegistry([{ id: 'rs', secret: 'right-secret-0123' }]);
    expect(registry.verify('rs', 'right-secret-0123')).toBe(true);
    expect(registry.verify('other', 'right-secret-0123')).toBe(false);
    expect(registry.verify('rs', '')).toBe(false);
  });

  it('form-decodes both halves of Basic credentials; the guard encodes them the same way', () => {
    const header = basicAuthorization('my-client', 'p@ss:w+rd/=%&~ x');
    expect(parseBasicCredentials(header, 'Basic realm="t"')).toEqual({ id: 'my-client', secret: 'p@ss:w+rd/=%&~ x' });
    const plus = `Basic ${Buffer.from('a+b:c+d').toString('base64')}`;
    expect(parseBasicCredentials(plus, 'Basic realm="t"')).toEqual({ id: 'a b', secret: 'c d' });
    expect(() => parseBasicCredentials('Basic abc', 'Basic realm="t"')).toThrow(/client authentication failed/);
  });
});

describe('pure policies', () => {
  it('plans device revocations (blocking older asset tokens unless told "none") and refuses odd block times', () => {
    const now = 1_800_000_000_000;
    const one = ['https://a.example'];
    const device = { iss: 'https://a.example', subject: 'd' };
    expect(deviceRevocationPlan({ did: 'd' }, one, now)).toEqual({ device, atMs: now, blockBeforeMs: now });
    expect(deviceRevocationPlan({ did: 'd', blockAssetTokensIssuedBefore: 'none' }, one, now)).toEqual({ device, atMs: now, blockBeforeMs: undefined });
    expect(deviceRevocationPlan({ did: 'd', blockAssetTokensIssuedBefore: 1_700_000_000 }, one, now).blockBeforeMs).toBe(1_700_000_000_000);
    expect(() => deviceRevocationPlan({ did: 'd', blockAssetTokensIssuedBefore: now }, one, now)).toThrow(/future/);
    expect(() => deviceRevocationPlan({ did: '' }, one, now)).toThrow(/device id/);
  });

  it('names the device by issuer and id: a bare id only while one issuer is trusted, never an untrusted issuer', () => {
    const now = 1_800_000_000_000;
    const two = ['https://a.example', 'https://b.example'];
    expect(() => deviceRevocationPlan({ did: 'device-7' }, two, now)).toThrow(/several issuers/);
    expect(deviceRevocationPlan({ did: 'device-7', iss: 'https://b.example' }, two, now).device).toEqual({ iss: 'https://b.example', subject: 'device-7' });
    expect(() => deviceRevocationPlan({ did: 'device-7', iss: 'https://b.example/' }, two, now)).toThrow(/not trusted/);
    expect(() => deviceRevocationPlan({ did: 'device-7' }, [], now)).toThrow(/no issuer/);
  });

  it('reads introspection answers into device claims', () => {
    expect(claimsOfIntrospection({ active: false })).toBeNull();
    expect(claimsOfIntrospection({ active: true, sub: 's', exp: 2, iat: 1, did: 's', asset_token_issuer: 'https://i', cnf: { jkt: 'k' } })).toEqual({
      sub: 's',
      aud: [],
      did: 's',
      exp: 2,
      iat: 1,
      assetTokenIssuer: 'https://i',
      cnf: { jkt: 'k' },
    });
    // RFC 7662 §2.2: aud is a string or a list; anything else names no resource.
    const base = { active: true, sub: 's', exp: 2, iat: 1 };
    expect(claimsOfIntrospection({ ...base, aud: 'https://a' })?.aud).toEqual(['https://a']);
    expect(claimsOfIntrospection({ ...base, aud: ['https://a', 7, 'https://b'] })?.aud).toEqual(['https://a', 'https://b']);
    expect(claimsOfIntrospection({ ...base, aud: { x: 1 } })?.aud).toEqual([]);
    expect(() => claimsOfIntrospection({ active: true })).toThrow(/lacks/);
    expect(() => claimsOfIntrospection('x')).toThrow();
  });
});
