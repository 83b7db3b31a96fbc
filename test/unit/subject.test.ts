import { describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { TrustedIssuers } from '../../src/assertion/issuers.js';
import { JwksCache } from '../../src/assertion/jwks.js';
import { AssertionRejected } from '../../src/assertion/rejections.js';
import { verifyAssetToken, type VerifyContext } from '../../src/assertion/verify.js';
import type { ClaimProfile } from '../../src/assertion/claims-policy.js';
import { TestClock } from '../support/harness.js';

/**
 * The subject of a token is derived in one place (claims-policy.ts subjectOf), for an accepted token
 * and for a verified one that is refused alike: the failure limits count and check the same device.
 */
const ISS = 'https://issuer.example';
const AUD = 'https://assetgate.example/oauth2/token';

async function setup(profile: ClaimProfile | undefined): Promise<{ ctx: VerifyContext; privateKey: CryptoKey }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' };
  const clock = new TestClock();
  const issuers = new TrustedIssuers();
  const keys = new JwksCache(async () => ({ keys: [jwk] }), { cooldownMs: 30_000, maxAgeMs: 600_000 }, clock);
  issuers.add(profile === undefined ? { issuer: ISS, algorithms: ['RS256'], keys } : { issuer: ISS, algorithms: ['RS256'], keys, profile });
  const ctx: VerifyContext = { issuers, audiences: [AUD], skewSeconds: 30, maxLifetimeSeconds: 3600, maxTokenBytes: 16 * 1024, clock };
  return { ctx, privateKey };
}

const sign = (privateKey: CryptoKey, claims: Record<string, unknown>) => {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISS, exp: now + 600, jti: `j-${Math.random()}`, did: 'the-did', sub: 'the-sub', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'JWT' })
    .sign(privateKey);
};

async function rejectionOf(promise: Promise<unknown>): Promise<AssertionRejected> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AssertionRejected) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('the subject of a verified token, accepted or refused', () => {
  it('is sub under the generic-jwt profile, even beside a did', async () => {
    const { ctx, privateKey } = await setup('generic-jwt');
    expect((await verifyAssetToken(await sign(privateKey, { aud: AUD }), ctx)).subject).toBe('the-sub');
    const refused = await rejectionOf(verifyAssetToken(await sign(privateKey, { aud: 'https://elsewhere.example' }), ctx));
    expect(refused.reason).toBe('wrong_audience');
    expect(refused.subject).toBe('the-sub');
    expect(refused.verified).toBe(true);
  });

  it('is did for asset tokens (the default profile), for an accepted and a refused token alike', async () => {
    const { ctx, privateKey } = await setup(undefined);
    expect((await verifyAssetToken(await sign(privateKey, { aud: AUD }), ctx)).subject).toBe('the-did');
    const refused = await rejectionOf(verifyAssetToken(await sign(privateKey, { aud: 'https://elsewhere.example' }), ctx));
    expect(refused.subject).toBe('the-did');
  });

  it('is unknown, and the token not verified, when the signature does not check out', async () => {
    const { ctx } = await setup('generic-jwt');
    const { privateKey: forger } = await generateKeyPair('RS256');
    const refused = await rejectionOf(verifyAssetToken(await sign(forger, { aud: AUD }), ctx));
    expect(refused.reason).toBe('bad_signature');
    expect(refused.verified).toBe(false);
    expect(refused.subject).toBeUndefined();
  });
});
