import { beforeAll, describe, expect, it } from '@jest/globals';
import { mintAccessToken } from '../../src/tokens/access-token.js';
import type { IngestSink } from '../../src/ingest/event.js';
import type { AccessTokenRecord, AssertionUse, TokenStore } from '../../src/tokens/store.js';
import type { TestClock } from './harness.js';

export interface StoreSubject {
  store: TokenStore;
  ingest: IngestSink;
  clock: TestClock;
}

/** One contract, two stores: what the memory store promises in development, Redis keeps in production. */
export function storeContract(name: string, make: () => Promise<StoreSubject>) {
  describe(`TokenStore contract: ${name}`, () => {
    let s: StoreSubject;
    let n = 0;
    beforeAll(async () => {
      s = await make();
    });

    const use = (over: Partial<AssertionUse> = {}): AssertionUse => ({
      iss: 'https://issuer.example',
      jti: `jti-${name}-${++n}-${Math.random()}`,
      subject: `device-${name}-${n}`,
      forgetAtMs: s.clock.now() + 600_000,
      issuedAtMs: s.clock.now() - 1000,
      ...over,
    });
    const token = (subject: string, ttlMs = 60_000, over: Partial<AccessTokenRecord> = {}) => {
      const iss = over.iss ?? 'https://issuer.example';
      const { token: raw, handle } = mintAccessToken({ iss, subject });
      const record: AccessTokenRecord = { sub: subject, did: subject, aid: '02iX', iss, jti: 'j', aud: ['https://assetgate.example'], iat: s.clock.now(), exp: s.clock.now() + ttlMs, ...over };
      return { raw, handle, record };
    };

    it('accepts an assertion once and saves its token', async () => {
      const u = use();
      const t = token(u.subject);
      expect(await s.store.consumeAssertion(u, t)).toBe('accepted');
      expect(await s.store.findAccessToken(t.handle)).toEqual(t.record);
      expect(await s.store.consumeAssertion(u, token(u.subject))).toBe('replayed');
    });

    it('keeps the audience of a session for other resources', async () => {
      const u = use();
      const t = token(u.subject, 60_000, { aud: ['https://telemetry.example', 'https://assetgate.example'] });
      expect(await s.store.consumeAssertion(u, t)).toBe('accepted');
      expect((await s.store.findAccessToken(t.handle))?.aud).toEqual(['https://telemetry.example', 'https://assetgate.example']);
    });

    it('lets exactly one of 50 concurrent uses win', async () => {
      const u = use();
      const outcomes = await Promise.all(Array.from({ length: 50 }, () => s.store.consumeAssertion(u, token(u.subject))));
      expect(outcomes.filter((o) => o === 'accepted')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'replayed')).toHaveLength(49);
    });

    it('treats the same id from another issuer as another assertion', async () => {
      const u = use();
      expect(await s.store.consumeAssertion(u)).toBe('accepted');
      expect(await s.store.consumeAssertion({ ...u, iss: 'https://other.example' })).toBe('accepted');
    });

    it('releases a use so it can be retried', async () => {
      const u = use();
      expect(await s.store.consumeAssertion(u)).toBe('accepted');
      await s.store.releaseAssertion(u);
      expect(await s.store.consumeAssertion(u)).toBe('accepted');
    });

    it('forgets an expired token', async () => {
      const u = use();
      const t = token(u.subject, 5_000);
      await s.store.consumeAssertion(u, t);
      s.clock.advance(6);
      expect(await s.store.findAccessToken(t.handle)).toBeNull();
    });

    it('revokes one token', async () => {
      const u = use();
      const t = token(u.subject);
      await s.store.consumeAssertion(u, t);
      await s.store.revokeAccessToken(t.handle);
      expect(await s.store.findAccessToken(t.handle)).toBeNull();
    });

    it('revokes every token of one device, and only that device', async () => {
      const u1 = use();
      const t1 = token(u1.subject);
      const t2 = token(u1.subject);
      const other = use();
      const t3 = token(other.subject);
      await s.store.consumeAssertion(u1, t1);
      await s.store.consumeAssertion({ ...u1, jti: `${u1.jti}-b` }, t2);
      await s.store.consumeAssertion(other, t3);
      await s.store.revokeDevice(u1, s.clock.now());
      expect(await s.store.findAccessToken(t1.handle)).toBeNull();
      expect(await s.store.findAccessToken(t2.handle)).toBeNull();
      expect(await s.store.findAccessToken(t3.handle)).not.toBeNull();
      s.clock.advance(1);
      const later = token(u1.subject);
      expect(await s.store.consumeAssertion({ ...u1, jti: `${u1.jti}-c` }, later)).toBe('accepted');
      expect(await s.store.findAccessToken(later.handle)).not.toBeNull();
    });

    it('blocks asset tokens issued before a device block, and those without an issue time', async () => {
      const u = use();
      await s.store.revokeDevice(u, s.clock.now(), s.clock.now());
      expect(await s.store.consumeAssertion(u)).toBe('device_blocked');
      expect(await s.store.consumeAssertion({ ...u, jti: `${u.jti}-x`, issuedAtMs: undefined })).toBe('device_blocked');
      expect(await s.store.consumeAssertion({ ...u, jti: `${u.jti}-y`, issuedAtMs: s.clock.now() + 1000 })).toBe('accepted');
    });

    it('keeps two issuers\' devices of the same id apart: revocation and block of one leave the other', async () => {
      const a = use({ iss: 'https://a.example' });
      const b = use({ iss: 'https://b.example', subject: a.subject });
      const ta = token(a.subject, 60_000, { iss: a.iss });
      const tb = token(b.subject, 60_000, { iss: b.iss });
      expect(await s.store.consumeAssertion(a, ta)).toBe('accepted');
      expect(await s.store.consumeAssertion(b, tb)).toBe('accepted');
      await s.store.revokeDevice({ iss: a.iss, subject: a.subject }, s.clock.now(), s.clock.now());
      expect(await s.store.findAccessToken(ta.handle)).toBeNull();
      expect(await s.store.findAccessToken(tb.handle)).toEqual(tb.record);
      expect(await s.store.consumeAssertion({ ...a, jti: `${a.jti}-2` })).toBe('device_blocked');
      expect(await s.store.consumeAssertion({ ...b, jti: `${b.jti}-2` })).toBe('accepted');
    });

    it('marks a DPoP proof jti used once per key (RFC 9449 §11.1)', async () => {
      const proof = { jkt: `jkt-${name}-${++n}-${Math.random()}`, jti: 'j-1', forgetAtMs: s.clock.now() + 90_000 };
      expect(await s.store.consumeDpopProof(proof)).toBe('accepted');
      expect(await s.store.consumeDpopProof(proof)).toBe('replayed');
      expect(await s.store.consumeDpopProof({ ...proof, jti: 'j-2' })).toBe('accepted');
      expect(await s.store.consumeDpopProof({ ...proof, jkt: `${proof.jkt}-other` })).toBe('accepted');
    });

    it('lets exactly one of 50 concurrent uses of a DPoP proof win', async () => {
      const proof = { jkt: `jkt-${name}-${++n}-${Math.random()}`, jti: 'race', forgetAtMs: s.clock.now() + 90_000 };
      const outcomes = await Promise.all(Array.from({ length: 50 }, () => s.store.consumeDpopProof(proof)));
      expect(outcomes.filter((o) => o === 'accepted')).toHaveLength(1);
    });

    it('appends ingest events with increasing ids', async () => {
      const a = await s.ingest.append({ sub: 'd', did: 'd', iss: 'i', receivedAt: s.clock.now(), body: '{}' });
      const b = await s.ingest.append({ sub: 'd', iss: 'i', receivedAt: s.clock.now(), body: '[]' });
      if (!('id' in a) || !('id' in b)) throw new Error('refused');
      const [am, as] = a.id.split('-').map(Number);
      const [bm, bs] = b.id.split('-').map(Number);
      expect(bm! > am! || (bm === am && bs! > as!)).toBe(true);
    });

    it('pings', async () => {
      await expect(s.store.ping()).resolves.toBeUndefined();
    });
  });
}

