import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { localIssuer, TrustedIssuers } from '../../src/assertion/issuers.js';
import { AssertionRejected } from '../../src/assertion/rejections.js';
import { hasDuplicateMemberNames, isCanonicalBase64url } from '../../src/assertion/strict-json.js';
import { verifyAssetToken, type VerifyContext } from '../../src/assertion/verify.js';
import { InvalidRequest } from '../../src/oauth/errors.js';
import { parseFormBody } from '../../src/oauth/form.js';
import { call, startAssetgate, TestClock, type Harness } from '../support/harness.js';
import { assetToken, MockIssuer } from '../support/mock-issuer.js';
import { signRawJws } from '../support/attack.js';

/**
 * Property-based attacks (fast-check): for arbitrary input, the form parser, the token verifier and
 * the resource guard answer a documented 4xx, and the server stays up. Documented answers:
 *   token endpoint: 400 (invalid_request, invalid_grant, unsupported_grant_type, invalid_scope),
 *                   413 (body too large), 415 (media type)
 *   resources:      400 invalid_request or 401 (invalid_token, or no error code without credentials)
 */
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_ENDPOINT_ERRORS = new Set(['invalid_request', 'invalid_grant', 'unsupported_grant_type', 'invalid_scope']);

let issuer: MockIssuer;
let ag: Harness;

beforeAll(async () => {
  issuer = await MockIssuer.start();
  ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url } });
});
afterAll(async () => {
  await ag.close();
  await issuer.close();
});

const mint = (o: Parameters<typeof assetToken>[2] = {}) => assetToken(issuer, ag.tokenEndpoint, o);
const postBody = (body: string | Uint8Array, contentType = 'application/x-www-form-urlencoded') =>
  call(ag.tokenEndpoint, { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' ? body : new Uint8Array(body) });

function expectDocumentedTokenError(res: { status: number; json: Record<string, unknown> }): void {
  expect([400, 413, 415]).toContain(res.status);
  expect(TOKEN_ENDPOINT_ERRORS.has(res.json.error as string)).toBe(true);
}

/** Text that can travel in an HTTP header value (visible ASCII, space, tab). */
const headerText = fc.string({ unit: fc.constantFrom(...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)), '\t'), maxLength: 300 });
const base64urlChar = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split(''));

describe('form parser', () => {
  it('pure: any text is a parameter map or invalid_request, nothing else', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 500 }), (body) => {
        try {
          const params = parseFormBody(body);
          for (const [name, value] of params) {
            expect(typeof name).toBe('string');
            expect(value).not.toBe('');
          }
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidRequest);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('reads every body exactly as URLSearchParams does (same map, or the same repeated name)', () => {
    // The reference: URLSearchParams over the whole body, empty values dropped, a repeat refused.
    const reference = (body: string): Map<string, string> | string => {
      const params = new Map<string, string>();
      for (const [name, value] of new URLSearchParams(body)) {
        if (value === '') continue;
        if (params.has(name)) return `repeated ${name.slice(0, 64)}`;
        params.set(name, value);
      }
      return params;
    };
    const ours = (body: string): Map<string, string> | string => {
      try {
        return new Map(parseFormBody(body));
      } catch (err) {
        return `repeated ${/parameter "(.*)" is repeated/s.exec((err as Error).message)?.[1] ?? String(err)}`;
      }
    };
    // Bodies made mostly of the characters that matter: separators, escapes (valid and broken),
    // '+', non-ASCII, and a few letters so that names repeat.
    // Escapes include what decodeURIComponent refuses and URLSearchParams keeps or replaces: bytes
    // that are not UTF-8 (%FF), a truncated sequence (%C3), an escaped surrogate (%ED%A0%80).
    const formChar = fc.constantFrom('&', '=', '%', '+', '2', '0', 'C', '3', 'e', 'a', 'b', 'é', '✓', '%41', '%e2%9c%93', '%zz', '%', ' ',
      '%2B', '%3D', '%26', '%25', '%00', '%FF', '%C3', '%ED%A0%80', '%F0%9F%98%80', '%3a');
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: formChar, maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 200 })), (body) => {
        expect(ours(body)).toEqual(reference(body));
      }),
      { numRuns: 5000 },
    );
  });

  it('HTTP: arbitrary form bodies get a documented 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 2000 }),
          fc.dictionary(fc.constantFrom('grant_type', 'assertion', 'scope', 'subject_token', 'subject_token_type', 'x'), fc.string({ unit: 'grapheme', maxLength: 200 })).map((d) => new URLSearchParams(d).toString()),
        ),
        async (body) => expectDocumentedTokenError(await postBody(body)),
      ),
      { numRuns: 150 },
    );
  });

  it('HTTP: arbitrary bytes and arbitrary media types get a documented 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), headerText.filter((t) => t.trim() !== ''), async (bytes, type) => {
        expectDocumentedTokenError(await postBody(bytes, type.trim()));
      }),
      { numRuns: 150 },
    );
  });
});

describe('token verifier', () => {
  let ctx: VerifyContext;
  let clock: TestClock;
  beforeAll(() => {
    clock = new TestClock();
    const issuers = new TrustedIssuers();
    issuers.add(localIssuer(issuer.url, async () => issuer.jwks(), { algorithms: ['RS256'], jwks: { cooldownMs: 60_000, maxAgeMs: 600_000, timeoutMs: 1000, maxBytes: 100_000 } }, clock));
    ctx = { issuers, audiences: [ag.tokenEndpoint], skewSeconds: 30, maxLifetimeSeconds: 86400, maxTokenBytes: 16 * 1024, clock };
  });

  async function outcome(token: string): Promise<'accepted' | 'rejected'> {
    try {
      await verifyAssetToken(token, ctx);
      return 'accepted';
    } catch (err) {
      if (err instanceof AssertionRejected) return 'rejected';
      throw err; // anything else would become a 500
    }
  }

  it('pure: the duplicate-member scan finds every injected duplicate and nothing else', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 })), fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), (obj, name, value) => {
        const text = JSON.stringify(obj);
        expect(hasDuplicateMemberNames(text)).toBe(false); // JSON.stringify never repeats a name
        const withName = JSON.stringify({ ...obj, [name]: value });
        // Append the same name again, escaped differently, at the end of the top-level object.
        const escaped = JSON.stringify(name).replace(/[a-z]/, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
        const duplicated = `${withName.slice(0, -1)},${escaped}:0}`;
        expect(hasDuplicateMemberNames(duplicated)).toBe(true);
        // The same name again as JSON.stringify writes it (often no backslash in the whole text).
        expect(hasDuplicateMemberNames(`${withName.slice(0, -1)},${JSON.stringify(name)}:0}`)).toBe(true);
        // Same name nested one level down, inside an array: not a duplicate of the outer one.
        expect(hasDuplicateMemberNames(JSON.stringify({ ...obj, [name]: [{ [name]: value }] }))).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('pure: the duplicate-member scan on empty strings, escapes and nesting', () => {
    expect(hasDuplicateMemberNames('{"":1,"":2}')).toBe(true);
    expect(hasDuplicateMemberNames('{"a":"","b":"","c":{"a":""}}')).toBe(false);
    expect(hasDuplicateMemberNames('{"a\\"":1,"a\\u0022":2}')).toBe(true);
    expect(hasDuplicateMemberNames('{"x":["a","a"],"y":"\\\\"}')).toBe(false);
  });

  it('pure: the arithmetic canonical-base64url check agrees with decode-and-re-encode', () => {
    const reencodes = (s: string) => /^[A-Za-z0-9_-]*$/.test(s) && Buffer.from(s, 'base64url').toString('base64url') === s;
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: base64urlChar, maxLength: 64 }), fc.string({ maxLength: 16 }), fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b).toString('base64url'))), (s) => {
        expect(isCanonicalBase64url(s)).toBe(reencodes(s));
      }),
      { numRuns: 5000 },
    );
    // Every last character after 1 and 2 encoded bytes: only the spare-bit-free ones pass.
    for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') {
      expect(isCanonicalBase64url(`Q${c}`)).toBe(reencodes(`Q${c}`));
      expect(isCanonicalBase64url(`QU${c}`)).toBe(reencodes(`QU${c}`));
    }
  });

  it('pure: arbitrary strings are rejected as assertions, never thrown as something else', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ unit: 'binary', maxLength: 400 }), fc.array(fc.string({ unit: base64urlChar, maxLength: 80 }), { minLength: 1, maxLength: 6 }).map((p) => p.join('.'))), async (s) => {
        expect(await outcome(s)).toBe('rejected');
      }),
      { numRuns: 1000 },
    );
  });

  it('pure: every single-character change of a valid token is rejected (no malleability)', async () => {
    const token = await mint();
    expect(await outcome(token)).toBe('accepted');
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: token.length - 1 }), fc.oneof(base64urlChar, fc.constantFrom('.', '=', ' ', '+', '/', '\n', '\u00e9')), async (at, ch) => {
        const mutated = token.slice(0, at) + ch + token.slice(at + 1);
        fc.pre(mutated !== token);
        expect(await outcome(mutated)).toBe('rejected');
      }),
      { numRuns: 1000 },
    );
  });

  it('pure: arbitrary JSON headers and claims, validly signed, are accepted only when the policy holds', async () => {
    const key = issuer.keys[0]!;
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom('alg', 'kid', 'typ', 'crit', 'jku', 'x'), fc.jsonValue({ maxDepth: 2 })), fc.dictionary(fc.constantFrom('iss', 'aud', 'exp', 'nbf', 'iat', 'did', 'sub', 'id', 'jti', 'cnf', 'x'), fc.jsonValue({ maxDepth: 2 })), async (h, p) => {
        const header = { alg: 'RS256', kid: key.kid, ...h };
        const now = Math.floor(clock.now() / 1000);
        const payload = { iss: issuer.url, aud: [ag.tokenEndpoint], exp: now + 600, id: 'x', did: 'd', ...p };
        const result = await outcome(signRawJws(JSON.stringify(header), JSON.stringify(payload), key.privateKey));
        if (result === 'accepted') {
          expect(header.alg).toBe('RS256');
          expect(header.kid).toBe(key.kid);
          expect(payload.iss).toBe(issuer.url);
          expect(typeof payload.exp).toBe('number');
          expect(header).not.toHaveProperty('crit');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('pure: a hostile value in any header member or claim, validly signed, is decided by type, never thrown', async () => {
    // Every member by every awkward JSON type, not left to the random search above: values a string
    // conversion throws on ({"toString":""}), arrays that stringify to a valid value (["JWT"]), and
    // the neighbours of valid ones.
    const key = issuer.keys[0]!;
    const hostile: unknown[] = [{ toString: '' }, { valueOf: 0, toString: 0 }, { toString: null, valueOf: null }, ['JWT'], ['RS256'], [key.kid], [issuer.url], [[ag.tokenEndpoint]], null, true, false, 0, -1, 1e308, '', '\ud800', 'd\udc00', 'x'.repeat(5000), {}, [], { jwk: { toString: '' } }, { jwk: [] }, { jwk: ['x'] }, [{ jwk: {} }]];
    // What each member must be when the token is accepted; the members only refused or only ignored.
    const string = (v: unknown) => typeof v === 'string';
    // Ids name devices, marks and keys in Redis: no lone surrogates (they would become U+FFFD).
    const id = (v: unknown) => typeof v === 'string' && v.isWellFormed();
    const number = (v: unknown) => typeof v === 'number';
    const object = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    const headerTypes: Record<string, (v: unknown) => boolean> = { alg: string, kid: string, typ: string, crit: () => false, b64: () => false, enc: () => false, zip: () => false, jku: () => true, x5u: () => true, x5c: () => true, jwk: () => true, cty: () => true };
    const claimTypes: Record<string, (v: unknown) => boolean> = {
      iss: string,
      aud: (v) => string(v) || (Array.isArray(v) && v.every(string)),
      exp: number,
      nbf: number,
      iat: number,
      id,
      jti: id,
      did: id,
      sub: id,
      aid: id,
      cnf: (v) => object(v) && (v.jwk === undefined || object(v.jwk)),
    };
    const now = Math.floor(clock.now() / 1000);
    const baseHeader = { alg: 'RS256', kid: key.kid };
    const basePayload = { iss: issuer.url, aud: [ag.tokenEndpoint], exp: now + 600, id: 'x', did: 'd' };
    const decided: string[] = [];
    for (const value of hostile) {
      for (const [name, allowed] of Object.entries(headerTypes)) {
        const result = await outcome(signRawJws(JSON.stringify({ ...baseHeader, [name]: value }), JSON.stringify(basePayload), key.privateKey));
        if (result === 'accepted') expect({ header: name, value, accepted: allowed(value) }).toEqual({ header: name, value, accepted: true });
        decided.push(result);
      }
      for (const [name, allowed] of Object.entries(claimTypes)) {
        const result = await outcome(signRawJws(JSON.stringify(baseHeader), JSON.stringify({ ...basePayload, [name]: value }), key.privateKey));
        if (result === 'accepted') expect({ claim: name, value, accepted: allowed(value) }).toEqual({ claim: name, value, accepted: true });
        decided.push(result);
      }
    }
    // "__proto__" as a member name is an own member like any other (JSON.parse), never the prototype.
    const proto = `{"iss":${JSON.stringify(issuer.url)},"aud":[${JSON.stringify(ag.tokenEndpoint)}],"exp":${now + 600},"id":"p","__proto__":{"did":"d"}}`;
    expect(await outcome(signRawJws(JSON.stringify(baseHeader), proto, key.privateKey))).toBe('rejected'); // no did: no subject
    expect(await outcome(signRawJws(`{"alg":"RS256","kid":${JSON.stringify(key.kid)},"__proto__":{"crit":["exp"]}}`, JSON.stringify(basePayload), key.privateKey))).toBe('accepted');
    expect(decided).toContain('rejected');
    expect(decided).toContain('accepted'); // the base token itself goes through where the member is ignored
  });

  it('HTTP: mutated and arbitrary assertions get a documented 400', async () => {
    const token = await mint();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(fc.nat({ max: token.length - 1 }), base64urlChar).map(([at, ch]) => token.slice(0, at) + ch + token.slice(at + 1)),
          fc.string({ unit: 'grapheme', minLength: 1, maxLength: 500 }),
        ),
        async (assertion) => {
          fc.pre(assertion !== token);
          const res = await call(ag.tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString() });
          expect(res.status).toBe(400);
          expect(['invalid_grant', 'invalid_request']).toContain(res.json.error);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('resource guard', () => {
  it('HTTP: arbitrary Authorization values get 400 or 401 with a Bearer challenge', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(headerText, headerText.map((t) => `Bearer ${t}`), fc.string({ unit: base64urlChar, minLength: 1, maxLength: 200 }).map((t) => `Bearer ${t}`)), async (value) => {
        const res = await call(`${ag.url}/resource`, { headers: value.trim() === '' ? {} : { authorization: value } });
        expect([400, 401]).toContain(res.status);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="assetgate"/);
        if (res.status === 400) expect(res.json.error).toBe('invalid_request');
        if (res.status === 401 && res.text !== '') expect(res.json.error).toBe('invalid_token');
      }),
      { numRuns: 200 },
    );
  });

  it('HTTP: arbitrary JSON bodies at /ingestapi with bad credentials never get past the guard', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: base64urlChar, minLength: 1, maxLength: 120 }), async (body, bearer) => {
        const res = await call(`${ag.url}/ingestapi`, { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: JSON.stringify(body) ?? 'null' });
        expect([400, 401, 413]).toContain(res.status);
      }),
      { numRuns: 150 },
    );
  });

  it('the server is still up and nothing answered 500', async () => {
    expect((await call(`${ag.url}/healthz`)).status).toBe(200);
    const statuses = ag.logs.map((l) => (JSON.parse(l) as { status?: number }).status).filter((s): s is number => s !== undefined);
    expect(statuses.length).toBeGreaterThan(500);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });
});
