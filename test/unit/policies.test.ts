import { describe, expect, it } from '@jest/globals';
import { errors } from 'jose';
import { IssuerUnavailableError } from '../../src/assertion/jwks.js';
import { rejectionFromJose } from '../../src/assertion/rejections.js';
import { InvalidGrant, InvalidScope } from '../../src/oauth/errors.js';
import { parseFormBody } from '../../src/oauth/form.js';
import { toOAuthError } from '../../src/oauth/render-error.js';
import { grantScope } from '../../src/oauth/scope-policy.js';
import { bearerChallenge } from '../../src/resource/challenge.js';
import { accessTokenHandle, mintAccessToken } from '../../src/tokens/access-token.js';
import { deviceTag, issuerKey } from '../../src/tokens/keys.js';
import { StoreUnavailableError } from '../../src/tokens/store.js';

describe('parseFormBody (RFC 6749 §3.1, §3.2)', () => {
  it('decodes, drops empty values, and refuses repeats', () => {
    const p = parseFormBody('a=1&b=&c=x%20y+z&d=%E2%9C%93');
    expect([...p]).toEqual([
      ['a', '1'],
      ['c', 'x y z'],
      ['d', '✓'],
    ]);
    expect(() => parseFormBody('a=1&a=2')).toThrow(/parameter "a" is repeated/);
    expect(parseFormBody('a=&a=2').get('a')).toBe('2');
  });
});

describe('grantScope (RFC 6749 §3.3)', () => {
  it('deduplicates, and refuses anything beyond what policy allows (invalid_scope, not a narrower grant)', () => {
    const allowed = new Set(['a', 'b']);
    expect(grantScope(undefined, allowed)).toBeUndefined();
    expect(grantScope('a b a', allowed)).toBe('a b');
    expect(() => grantScope('a c', allowed)).toThrow(InvalidScope);
    expect(() => grantScope('a"b', allowed)).toThrow(InvalidScope);
    expect(() => grantScope('   ', allowed)).toThrow(InvalidScope);
    // Nothing configured, nothing granted: `admin superuser` is no longer the device's to choose.
    expect(() => grantScope('admin superuser', new Set())).toThrow(/scope "admin" is not granted/);
  });
});

describe('toOAuthError', () => {
  it('keeps OAuth errors, turns infrastructure failures into 503 and the rest into a bare 500', () => {
    const grant = new InvalidGrant('x');
    expect(toOAuthError(grant)).toBe(grant);
    const store = toOAuthError(new StoreUnavailableError('redis down at 10.0.0.1'));
    expect([store.status, store.code, store.headers['Retry-After']]).toEqual([503, 'temporarily_unavailable', '1']);
    expect(store.description).not.toMatch(/10\.0\.0\.1/);
    expect(toOAuthError(new IssuerUnavailableError('x')).status).toBe(503);
    const crash = toOAuthError(new TypeError('secret internals'));
    expect([crash.status, crash.code, crash.description]).toEqual([500, 'server_error', 'internal error']);
    expect(toOAuthError(Object.assign(new Error('x'), { status: 413 })).status).toBe(413);
  });
});

describe('rejectionFromJose (one table from jose codes)', () => {
  it('maps what the key lookup and the signature check throw, by class', () => {
    expect(rejectionFromJose(new errors.JWSSignatureVerificationFailed()).reason).toBe('bad_signature');
    expect(rejectionFromJose(new errors.JOSEAlgNotAllowed('x')).reason).toBe('alg_not_allowed');
    expect(rejectionFromJose(new errors.JOSENotSupported('x')).reason).toBe('unsupported');
    expect(rejectionFromJose(new errors.JWSInvalid('x')).reason).toBe('malformed');
    expect(rejectionFromJose(new TypeError('x'))).toMatchObject({ reason: 'malformed', hint: 'assertion could not be processed' });
  });
});

describe('access tokens', () => {
  it('are tag.random with 258 random bits and map to a handle', () => {
    const device = { iss: 'https://a.example', subject: 'device-1' };
    const { token, handle } = mintAccessToken(device);
    expect(token).toMatch(/^[A-Za-z0-9_-]{20}\.[A-Za-z0-9_-]{43}$/);
    expect(handle).toMatchObject({ tag: deviceTag('device-1'), issuer: issuerKey('https://a.example') });
    expect(accessTokenHandle(token)).toEqual(handle);
    expect(mintAccessToken(device).token).not.toBe(token);
    // A device is its issuer plus its id: another issuer's device-1 names other marks (same slot).
    expect(mintAccessToken({ iss: 'https://b.example', subject: 'device-1' }).handle.issuer).not.toBe(handle.issuer);
    // A token minted before devices were keyed by issuer: no issuer key, the id's mark of every issuer.
    expect(accessTokenHandle(`${handle.tag}.${'A'.repeat(43)}`)).toEqual({ tag: handle.tag, hash: expect.any(String) });
    expect(accessTokenHandle('x.y')).toBeNull();
    expect(accessTokenHandle(`${token}a`)).toBeNull();
  });
});

describe('bearerChallenge (RFC 6750 §3)', () => {
  it('has no error without credentials, a clean quoted-string otherwise', () => {
    expect(bearerChallenge('r')).toBe('Bearer realm="r"');
    expect(bearerChallenge('r', { code: 'invalid_token', description: 'bad "token"\\\n' })).toBe(
      'Bearer realm="r", error="invalid_token", error_description="bad token"',
    );
  });
});
