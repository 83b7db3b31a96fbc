import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { ClientRegistry, parseBasicCredentials, secretMatches } from '../../src/oauth/client-auth.js';

describe('client secret comparison (constant time)', () => {
  const registry = new ClientRegistry([{ id: 'gateway', secret: 'gateway-secret-0123456789' }]);

  it('accepts the secret and refuses near misses, other lengths and unknown ids without throwing', () => {
    expect(registry.verify('gateway', 'gateway-secret-0123456789')).toBe(true);
    for (const wrong of ['gateway-secret-012345678', 'gateway-secret-01234567890', 'Gateway-secret-0123456789', '', 'x'.repeat(10_000)]) {
      expect(registry.verify('gateway', wrong)).toBe(false); // timingSafeEqual would throw on unequal lengths: digests make them equal
    }
    expect(registry.verify('unknown', 'gateway-secret-0123456789')).toBe(false);
  });

  it('compares fixed-length digests with timingSafeEqual, never the secrets themselves', () => {
    const digest = createHash('sha256').update('s3cret-s3cret-s3cret').digest();
    expect(secretMatches('s3cret-s3cret-s3cret', digest)).toBe(true);
    expect(secretMatches('s3cret', digest)).toBe(false);
    // The comparison in place is timingSafeEqual over digests: no `===` / `!==` on a secret anywhere in the module.
    const source = readFileSync('src/oauth/client-auth.ts', 'utf8');
    expect(source).toMatch(/timingSafeEqual\(secretDigest\(presented\), expectedDigest\)/);
    expect(source).not.toMatch(/[sS]ecret\s*[!=]==(?!\s*(?:null|undefined)\b)|(?<!\b(?:null|undefined)\s*)[!=]==\s*\w*[sS]ecret\b/);
  });

  it('form-decodes both halves of Basic credentials (RFC 6749 §2.3.1)', () => {
    const header = `Basic ${Buffer.from('my%2Dclient:p%40ss+word').toString('base64')}`;
    expect(parseBasicCredentials(header, 'Basic realm="x"')).toEqual({ id: 'my-client', secret: 'p@ss word' });
  });
});
