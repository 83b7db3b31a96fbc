import { describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { IssuerUnavailableError, JwksCache, keyFitsAlgorithm, UnknownKeyError } from '../../src/assertion/jwks.js';
import { TestClock } from '../support/harness.js';

async function rsaJwk(kid: string): Promise<JWK> {
  const { publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(publicKey)), kid };
}

describe('keyFitsAlgorithm (RFC 8725 §3.1)', () => {
  it('matches key family, alg, use and key_ops; never private or symmetric keys', () => {
    const rsa: JWK = { kty: 'RSA', n: 'x', e: 'AQAB' };
    expect(keyFitsAlgorithm(rsa, 'RS256')).toBe(true);
    expect(keyFitsAlgorithm(rsa, 'ES256')).toBe(false);
    expect(keyFitsAlgorithm(rsa, 'HS256')).toBe(false);
    expect(keyFitsAlgorithm({ ...rsa, alg: 'RS512' }, 'RS256')).toBe(false);
    expect(keyFitsAlgorithm({ ...rsa, use: 'enc' }, 'RS256')).toBe(false);
    expect(keyFitsAlgorithm({ ...rsa, key_ops: ['encrypt'] }, 'RS256')).toBe(false);
    expect(keyFitsAlgorithm({ ...rsa, d: 'secret' }, 'RS256')).toBe(false);
    expect(keyFitsAlgorithm({ kty: 'oct', k: 'abc' }, 'HS256')).toBe(false);
    expect(keyFitsAlgorithm({ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }, 'ES256')).toBe(true);
    expect(keyFitsAlgorithm({ kty: 'EC', crv: 'P-384', x: 'a', y: 'b' }, 'ES256')).toBe(false);
  });
});

describe('JwksCache', () => {
  const policy = { cooldownMs: 30_000, maxAgeMs: 600_000 };
  /** A cache over a JWKS endpoint the test can take down. */
  const switchableCache = (keys: JWK[], clock: TestClock) => {
    const endpoint = { up: true };
    const cache = new JwksCache(async () => {
      if (!endpoint.up) throw new Error('down');
      return { keys };
    }, policy, clock);
    return { cache, endpoint };
  };

  it('loads once, then serves from cache', async () => {
    const k1 = await rsaJwk('k1');
    let loads = 0;
    const cache = new JwksCache(async () => (loads++, { keys: [k1] }), policy, new TestClock());
    await cache.getKey({ alg: 'RS256', kid: 'k1' });
    await cache.getKey({ alg: 'RS256', kid: 'k1' });
    expect(loads).toBe(1);
  });

  it('refetches an unknown kid at most once per cooldown', async () => {
    const k1 = await rsaJwk('k1');
    const k2 = await rsaJwk('k2');
    const clock = new TestClock();
    let doc = { keys: [k1] };
    let loads = 0;
    const cache = new JwksCache(async () => (loads++, doc), policy, clock);
    await cache.getKey({ alg: 'RS256', kid: 'k1' });
    doc = { keys: [k1, k2] };
    await expect(cache.getKey({ alg: 'RS256', kid: 'k2' })).rejects.toBeInstanceOf(UnknownKeyError);
    expect(loads).toBe(1);
    clock.advance(31);
    await expect(cache.getKey({ alg: 'RS256', kid: 'k2' })).resolves.toBeDefined();
    expect(loads).toBe(2);
    await expect(cache.getKey({ alg: 'RS256', kid: 'k3' })).rejects.toBeInstanceOf(UnknownKeyError);
    expect(loads).toBe(2);
  });

  it('keeps cached keys when a refresh fails, and reports a cold failure as unavailable', async () => {
    const k1 = await rsaJwk('k1');
    const clock = new TestClock();
    const { cache, endpoint } = switchableCache([k1], clock);
    await cache.getKey({ alg: 'RS256', kid: 'k1' });
    endpoint.up = false;
    clock.advance(700); // older than maxAge: background refresh fails, cached key still served
    await expect(cache.getKey({ alg: 'RS256', kid: 'k1' })).resolves.toBeDefined();

    const cold = new JwksCache(async () => {
      throw new Error('down');
    }, policy, clock);
    await expect(cold.getKey({ alg: 'RS256', kid: 'k1' })).rejects.toBeInstanceOf(IssuerUnavailableError);
  });

  it('reports an unknown kid as unavailable (not unknown) when the refetch for it fails', async () => {
    const k1 = await rsaJwk('k1');
    const clock = new TestClock();
    const { cache, endpoint } = switchableCache([k1], clock);
    await cache.getKey({ alg: 'RS256', kid: 'k1' });
    endpoint.up = false;
    clock.advance(31);
    await expect(cache.getKey({ alg: 'RS256', kid: 'rotated' })).rejects.toBeInstanceOf(IssuerUnavailableError);
    // within the cooldown no refetch is tried: an unknown kid is just unknown
    await expect(cache.getKey({ alg: 'RS256', kid: 'rotated' })).rejects.toBeInstanceOf(UnknownKeyError);
    await expect(cache.getKey({ alg: 'RS256', kid: 'k1' })).resolves.toBeDefined();
  });

  it('refuses a document without keys and an ambiguous kid-less header', async () => {
    const clock = new TestClock();
    const broken = new JwksCache(async () => ({ nokeys: true }), policy, clock);
    await expect(broken.getKey({ alg: 'RS256', kid: 'k1' })).rejects.toBeInstanceOf(IssuerUnavailableError);
    const two = new JwksCache(async () => ({ keys: [await rsaJwk('a'), await rsaJwk('b')] }), policy, clock);
    await expect(two.getKey({ alg: 'RS256' })).rejects.toBeInstanceOf(UnknownKeyError);
    const one = new JwksCache(async () => ({ keys: [await rsaJwk('a')] }), policy, clock);
    await expect(one.getKey({ alg: 'RS256' })).resolves.toBeDefined();
  });
});

describe('JwksCache key selection', () => {
  it('drops a malformed key alone: the other keys of the issuer are still found, by kid or without one', async () => {
    const good = await rsaJwk('good');
    const malformed = [
      { kty: 'RSA', kid: 'bad-ops', n: 'x', e: 'AQAB', key_ops: 5 },
      { kty: 'RSA', kid: 'bad-ops-object', n: 'x', e: 'AQAB', key_ops: { includes: 1 } },
      { kty: 'RSA', kid: 'bad-op', n: 'x', e: 'AQAB', key_ops: [1] },
      { kty: 'RSA', kid: 'bad-use', n: 'x', e: 'AQAB', use: ['sig'] },
      { kty: 'RSA', kid: 'bad-alg', n: 'x', e: 'AQAB', alg: { toString: '' } },
      { kty: 'RSA', kid: ['good'], n: 'x', e: 'AQAB' },
      { kty: 'EC', kid: 'bad-crv', crv: ['P-256'], x: 'a', y: 'b' },
      ['not', 'a', 'key'],
    ];
    const cache = new JwksCache(async () => ({ keys: [...malformed, good] }), { cooldownMs: 30_000, maxAgeMs: 600_000 }, new TestClock());
    await expect(cache.getKey({ alg: 'RS256', kid: 'good' })).resolves.toBeDefined();
    // Without a kid the set is unambiguous: the malformed keys are not candidates.
    await expect(cache.getKey({ alg: 'RS256' })).resolves.toBeDefined();
    await expect(cache.getKey({ alg: 'RS256', kid: 'bad-ops' })).rejects.toBeInstanceOf(UnknownKeyError);
  });

  it('never lets a non-string kid select a key (no cache-key confusion with the string kid)', async () => {
    const { publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1' };
    const cache = new JwksCache(async () => ({ keys: [jwk] }), { cooldownMs: 30_000, maxAgeMs: 600_000 }, new TestClock());
    await expect(cache.getKey({ alg: 'RS256', kid: 'k1' })).resolves.toBeDefined();
    for (const kid of [['k1'], { toString: () => 'k1' }, 1, null]) {
      await expect(cache.getKey({ alg: 'RS256', kid } as unknown as { alg: string; kid: string })).rejects.toBeInstanceOf(UnknownKeyError);
    }
  });
});
