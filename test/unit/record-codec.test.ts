import { describe, expect, it } from '@jest/globals';
import { decodeRecord, encodeRecord, IssuerDirectory, issuerIdOf } from '../../src/tokens/record-codec.js';
import type { AccessTokenRecord } from '../../src/tokens/store.js';

const ISS = 'https://mycompany.my.salesforce.com';
const trusted = new IssuerDirectory([ISS], true);
const base: AccessTokenRecord = {
  sub: '6ac9bc22-2a41-b85a-af76-c12e9e3bf8bc',
  did: '6ac9bc22-2a41-b85a-af76-c12e9e3bf8bc',
  aid: '02iB0000000abcdEAA',
  iss: ISS,
  jti: '05bB0000000xyzwQAA',
  iat: 1_795_000_000_123,
  exp: 1_795_003_600_123,
};

describe('access-token record codec (format 2)', () => {
  it('round-trips a Salesforce-shaped record compactly (issuer id, packed UUID, sub = did left out)', () => {
    const text = encodeRecord(base, trusted);
    expect(text).not.toContain(ISS);
    expect(text).not.toContain(base.did);
    expect(text.length).toBeLessThanOrEqual(82);
    expect(decodeRecord(text, trusted)).toEqual(base);
  });

  it.each<[string, Partial<AccessTokenRecord>]>([
    ['a subject other than did', { sub: 'someone-else' }],
    ['no did (generic JWT profile)', { did: undefined, sub: 'user-1' }],
    ['a non-UUID did', { did: 'device-7', sub: 'device-7' }],
    ['an upper-case UUID (kept verbatim)', { did: '6AC9BC22-2A41-B85A-AF76-C12E9E3BF8BC', sub: '6AC9BC22-2A41-B85A-AF76-C12E9E3BF8BC' }],
    ['scope and a key binding', { scope: 'ingest read', cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } }],
    ['separators and markers inside values', { did: '!dev|ice%7C', sub: '~sub|x', aid: '%25|', jti: '!~|%', scope: 'a|b' }],
    ['no aid', { aid: undefined }],
    ['a non-second lifetime', { exp: base.iat + 1 }],
  ])('round-trips %s', (_, over) => {
    const r = { ...base, ...over } as AccessTokenRecord;
    for (const k of Object.keys(r) as Array<keyof AccessTokenRecord>) if (r[k] === undefined) delete r[k];
    expect(decodeRecord(encodeRecord(r, trusted), trusted)).toEqual(r);
  });

  it('stores an issuer without a short id in full; a restricted directory refuses it', () => {
    const other = { ...base, iss: 'https://other.example' };
    const open = new IssuerDirectory();
    const text = encodeRecord(other, open);
    expect(text).toContain('https://other.example');
    expect(decodeRecord(text, open)).toEqual(other);
    expect(decodeRecord(text, trusted)).toBeNull();
  });

  it('two issuers sharing a short id both lose it: stored in full, each decoded as itself', () => {
    const seen = new Map<string, string>();
    let pair: [string, string] | undefined;
    for (let n = 0; !pair; n++) {
      const iss = `https://site-${n}.example`;
      const id = issuerIdOf(iss);
      const earlier = seen.get(id);
      if (earlier) pair = [earlier, iss];
      else seen.set(id, iss);
    }
    const [a, b] = pair;
    const alone = new IssuerDirectory([a], true);
    expect(alone.shortIdOf(a)).toBe(issuerIdOf(a));
    expect(alone.shortIdOf(b)).toBeUndefined();
    const both = new IssuerDirectory([a, b], true);
    expect([both.shortIdOf(a), both.shortIdOf(b)]).toEqual([undefined, undefined]);
    for (const iss of [a, b]) {
      const text = encodeRecord({ ...base, iss }, both);
      expect(text).toContain(iss);
      expect(decodeRecord(text, both)).toEqual({ ...base, iss });
    }
  });

  it('does not find a record whose issuer is no longer trusted or unknown', () => {
    const text = encodeRecord(base, trusted);
    expect(decodeRecord(text, new IssuerDirectory(['https://other.example'], true))).toBeNull();
    expect(decodeRecord(text, new IssuerDirectory())).toBeNull();
    const learned = new IssuerDirectory();
    learned.learn(ISS);
    expect(decodeRecord(text, learned)).toEqual(base);
  });

  it('still reads format 1 (JSON, before migration 2)', () => {
    const v1 = JSON.stringify({ s: base.sub, d: base.did, a: base.aid, i: ISS, j: base.jti, t: base.iat, e: base.exp, sc: 'x', k: 'jkt' });
    expect(decodeRecord(v1, trusted)).toEqual({ ...base, scope: 'x', cnf: { jkt: 'jkt' } });
    expect(decodeRecord(v1, new IssuerDirectory(['https://other.example'], true))).toBeNull();
  });
});
