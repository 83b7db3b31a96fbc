import { describe, expect, it } from '@jest/globals';
import { applyClaimsPolicy, checkRegisteredClaims } from '../../src/assertion/claims-policy.js';
import type { AssertionRejected } from '../../src/assertion/rejections.js';

const ctx = { nowSeconds: 1_000_000, skewSeconds: 30, maxLifetimeSeconds: 86400 };
const base = { iss: 'https://i', exp: 1_000_600, did: 'dev', id: 'tok-1', aid: '02i' };
const reason = (payload: Record<string, unknown>) => {
  try {
    applyClaimsPolicy(payload, ctx);
    return 'accepted';
  } catch (err) {
    return (err as AssertionRejected).reason;
  }
};

describe('applyClaimsPolicy', () => {
  it('maps a Salesforce asset token: did is the subject, id is the jti', () => {
    expect(applyClaimsPolicy({ ...base, nbf: 999_000, cnf: { jwk: { kty: 'RSA', n: 'x', e: 'AQAB' } } }, ctx)).toEqual({
      iss: 'https://i',
      subject: 'dev',
      did: 'dev',
      aid: '02i',
      jti: 'tok-1',
      exp: 1_000_600,
      nbf: 999_000,
      cnfJwk: { kty: 'RSA', n: 'x', e: 'AQAB' },
    });
  });

  it('takes sub as the subject when there is no did, and prefers jti over id', () => {
    const c = applyClaimsPolicy({ iss: 'https://i', exp: 1_000_600, sub: 'user', jti: 'j', id: 'i' }, ctx);
    expect([c.subject, c.did, c.jti]).toEqual(['user', undefined, 'j']);
  });

  it.each([
    [{ ...base, did: undefined }, 'missing_claim'],
    [{ ...base, id: undefined }, 'missing_claim'],
    [{ ...base, exp: undefined }, 'missing_claim'],
    [{ ...base, exp: '1000600' }, 'missing_claim'],
    [{ ...base, did: 42 }, 'invalid_claim'],
    [{ ...base, did: '' }, 'invalid_claim'],
    [{ ...base, did: 'x'.repeat(257) }, 'invalid_claim'],
    [{ ...base, aid: ['a'] }, 'invalid_claim'],
    [{ ...base, iat: 1_000_031 }, 'issued_in_future'],
    [{ ...base, exp: 1_000_000 + 86401 }, 'lifetime_too_long'],
    [{ ...base, cnf: 'key' }, 'invalid_claim'],
    [{ ...base, cnf: { jwk: 'key' } }, 'invalid_claim'],
  ])('rejects %j as %s', (payload, expected) => {
    expect(reason(payload as Record<string, unknown>)).toBe(expected);
  });

  it('allows iat within the skew', () => {
    expect(reason({ ...base, iat: 1_000_030 })).toBe('accepted');
  });
});

describe('checkRegisteredClaims (RFC 7519 §4.1, RFC 7523 §3)', () => {
  const ctx = { issuer: 'https://i', audiences: ['https://as', 'https://as/oauth2/token'], nowSeconds: 1_000_000, skewSeconds: 30 };
  const ok = { iss: 'https://i', aud: ['https://as'], exp: 1_000_600 };
  const outcome = (payload: Record<string, unknown>) => {
    try {
      checkRegisteredClaims(payload, ctx);
      return 'accepted';
    } catch (err) {
      return (err as AssertionRejected).reason;
    }
  };

  it.each([
    [ok, 'accepted'],
    [{ ...ok, aud: 'https://as/oauth2/token' }, 'accepted'],
    [{ ...ok, aud: ['x', 'https://as'] }, 'accepted'],
    [{ ...ok, exp: 999_971 }, 'accepted'], // inside the skew
    [{ ...ok, nbf: 1_000_030 }, 'accepted'],
    [{ ...ok, iss: 'https://i/' }, 'untrusted_issuer'],
    [{ ...ok, aud: undefined }, 'wrong_audience'],
    [{ ...ok, aud: 'https://AS' }, 'wrong_audience'],
    [{ ...ok, aud: ['https://as/'] }, 'wrong_audience'],
    [{ ...ok, aud: [['https://as']] }, 'wrong_audience'],
    [{ ...ok, exp: undefined }, 'missing_claim'],
    [{ ...ok, exp: '1000600' }, 'missing_claim'],
    [{ ...ok, exp: 999_970 }, 'expired'],
    [{ ...ok, nbf: 1_000_031 }, 'not_yet_valid'],
    [{ ...ok, nbf: '1' }, 'invalid_claim'],
    [{ ...ok, iat: 'yesterday' }, 'invalid_claim'],
  ])('%j -> %s', (payload, expected) => {
    expect(outcome(payload as Record<string, unknown>)).toBe(expected);
  });
});
