import { describe, expect, it } from '@jest/globals';
import { applyClaimsPolicy } from '../../src/assertion/claims-policy.js';
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
