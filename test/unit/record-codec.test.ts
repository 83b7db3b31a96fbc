import { describe, expect, it } from '@jest/globals';
import { decodeRecord, encodeRecord, IssuerDirectory, issuerIdOf, ResourceDirectory, resourceIdOf } from '../../src/tokens/record-codec.js';
import type { AccessTokenRecord } from '../../src/tokens/store.js';

const ISS = 'https://mycompany.my.salesforce.com';
const trusted = new IssuerDirectory([ISS], true);
const BUILTIN = 'https://assetgate.example';
const TELEMETRY = 'https://telemetry.example/v1';
const FIRMWARE = 'https://firmware.example';
const resources = new ResourceDirectory(BUILTIN, [TELEMETRY, FIRMWARE]);
const base: AccessTokenRecord = {
  sub: '6ac9bc22-2a41-b85a-af76-c12e9e3bf8bc',
  did: '6ac9bc22-2a41-b85a-af76-c12e9e3bf8bc',
  aid: '02iB0000000abcdEAA',
  iss: ISS,
  jti: '05bB0000000xyzwQAA',
  aud: [BUILTIN],
  iat: 1_795_000_000_123,
  exp: 1_795_003_600_123,
};

describe('access-token record codec (format 2)', () => {
  it('round-trips a Salesforce-shaped record compactly (issuer id, packed UUID, sub = did left out)', () => {
    const text = encodeRecord(base, trusted, resources);
    expect(text).not.toContain(ISS);
    expect(text).not.toContain(base.did);
    expect(text.length).toBeLessThanOrEqual(82);
    expect(decodeRecord(text, trusted, resources)).toEqual(base);
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
    expect(decodeRecord(encodeRecord(r, trusted, resources), trusted, resources)).toEqual(r);
  });

  it('stores an issuer without a short id in full; a restricted directory refuses it', () => {
    const other = { ...base, iss: 'https://other.example' };
    const open = new IssuerDirectory();
    const text = encodeRecord(other, open, resources);
    expect(text).toContain('https://other.example');
    expect(decodeRecord(text, open, resources)).toEqual(other);
    expect(decodeRecord(text, trusted, resources)).toBeNull();
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
      const text = encodeRecord({ ...base, iss }, both, resources);
      expect(text).toContain(iss);
      expect(decodeRecord(text, both, resources)).toEqual({ ...base, iss });
    }
  });

  it('does not find a record whose issuer is no longer trusted or unknown', () => {
    const text = encodeRecord(base, trusted, resources);
    expect(decodeRecord(text, new IssuerDirectory(['https://other.example'], true), resources)).toBeNull();
    expect(decodeRecord(text, new IssuerDirectory(), resources)).toBeNull();
    const learned = new IssuerDirectory();
    learned.learn(ISS);
    expect(decodeRecord(text, learned, resources)).toEqual(base);
  });

  it('still reads format 1 (JSON, before migration 2)', () => {
    const v1 = JSON.stringify({ s: base.sub, d: base.did, a: base.aid, i: ISS, j: base.jti, t: base.iat, e: base.exp, sc: 'x', k: 'jkt' });
    expect(decodeRecord(v1, trusted, resources)).toEqual({ ...base, scope: 'x', cnf: { jkt: 'jkt' } });
    expect(decodeRecord(v1, new IssuerDirectory(['https://other.example'], true), resources)).toBeNull();
  });
});

describe('access-token record codec: audience (migration 3)', () => {
  it('stores a session for the built-in resource alone exactly as before (no byte more)', () => {
    const text = encodeRecord(base, trusted, resources);
    expect(text.startsWith('@')).toBe(false);
    expect(decodeRecord(text, trusted, resources)!.aud).toEqual([BUILTIN]);
  });

  it.each<[string, string[]]>([
    ['one resource server', [TELEMETRY]],
    ['two, with the built-in one', [TELEMETRY, BUILTIN]],
    ['two resource servers', [FIRMWARE, TELEMETRY]],
  ])('round-trips %s as short ids in front, 1 + 4 per resource + 1 bytes', (_, aud) => {
    const r = { ...base, aud };
    const text = encodeRecord(r, trusted, resources);
    expect(text).toBe(`@${aud.map(resourceIdOf).join('')}|${encodeRecord(base, trusted, resources)}`);
    expect(text).not.toContain('example');
    expect(decodeRecord(text, trusted, resources)).toEqual(r);
  });

  it('old records (format 2 and JSON) are valid at the built-in resource only', () => {
    const v1 = JSON.stringify({ s: base.sub, d: base.did, a: base.aid, i: ISS, j: base.jti, t: base.iat, e: base.exp });
    expect(decodeRecord(v1, trusted, resources)!.aud).toEqual([BUILTIN]);
    const v2 = encodeRecord(base, trusted, resources);
    expect(decodeRecord(v2, trusted, new ResourceDirectory('https://elsewhere.example'))!.aud).toEqual(['https://elsewhere.example']);
  });

  it('a reader that does not know a resource drops it: the session is not valid there', () => {
    const text = encodeRecord({ ...base, aud: [TELEMETRY, FIRMWARE] }, trusted, resources);
    const partial = new ResourceDirectory(BUILTIN, [FIRMWARE]);
    expect(decodeRecord(text, trusted, partial)!.aud).toEqual([FIRMWARE]);
    // Without a known built-in resource, a record without audience is valid nowhere.
    expect(decodeRecord(encodeRecord(base, trusted, resources), trusted, new ResourceDirectory())!.aud).toEqual([]);
  });

  it('a reader rebuilds the directory from the registry a server writes, ignoring entries that are not ids of their value', () => {
    const registry = resources.registry();
    expect(registry).toMatchObject({ builtin: BUILTIN, [resourceIdOf(TELEMETRY)]: TELEMETRY });
    const read = ResourceDirectory.fromRegistry({ ...registry, AAAA: 'https://planted.example' });
    const text = encodeRecord({ ...base, aud: [TELEMETRY, FIRMWARE] }, trusted, resources);
    expect(decodeRecord(text, trusted, read)!.aud).toEqual([TELEMETRY, FIRMWARE]);
    expect(decodeRecord(encodeRecord(base, trusted, resources), trusted, read)!.aud).toEqual([BUILTIN]);
    expect(read.resourceOf('AAAA')).toBeUndefined();
  });

  it('an older decoder (no "@" handling) finds no time in a restricted record: fail closed', () => {
    const text = encodeRecord({ ...base, aud: [TELEMETRY] }, trusted, resources);
    expect(Number.isFinite(parseInt(text.slice(0, 8), 36))).toBe(false);
  });

  it('refuses to write a resource it does not know, and two resources sharing a short id', () => {
    expect(() => encodeRecord({ ...base, aud: ['https://unknown.example'] }, trusted, resources)).toThrow(/not a configured resource/);
    const seen = new Map<string, string>();
    let pair: [string, string] | undefined;
    for (let n = 0; !pair; n++) {
      const r = `https://rs-${n}.example`;
      const earlier = seen.get(resourceIdOf(r));
      if (earlier) pair = [earlier, r];
      else seen.set(resourceIdOf(r), r);
    }
    expect(() => new ResourceDirectory(BUILTIN, pair)).toThrow(/share the short id/);
  });
});
