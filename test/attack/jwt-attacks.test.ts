import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exportSPKI, generateKeyPair, importJWK, SignJWT } from 'jose';
import { nanoid } from 'nanoid';
import { call, postForm, startAssetgate, type Harness } from '../support/harness.js';
import { assetToken, makeKey, MockIssuer, rawJws } from '../support/mock-issuer.js';
import { AttackerServer, b64u, expectFailClosed, signRawJws } from '../support/attack.js';

/**
 * JWT attacks (RFC 8725, RFC 7515 §5.2, RFC 7519 §7.2) over HTTP against the real app: every one
 * must fail closed with an RFC error, at the token endpoint (invalid_grant / invalid_request) and
 * in the bearer sequence at /resource (invalid_token).
 */
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

let issuer: MockIssuer;
let attacker: AttackerServer;
let ag: Harness;

beforeAll(async () => {
  issuer = await MockIssuer.start();
  attacker = await AttackerServer.start();
  ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, ASSERTION_ALGORITHMS: 'RS256,ES256' } });
});
afterAll(async () => {
  await ag.close();
  await issuer.close();
  await attacker.close();
});

const now = () => Math.floor(Date.now() / 1000);
const goodClaims = () => ({
  iss: issuer.url,
  aud: [ag.tokenEndpoint],
  nbf: now() - 5,
  exp: now() + 600,
  id: `05b${nanoid(12)}`,
  did: `dev-${nanoid(8)}`,
  aid: '02iATTACK',
});
const goodHeader = () => ({ alg: 'RS256', kid: issuer.keys[0]!.kid, typ: 'JWT' });
const mint = (o: Parameters<typeof assetToken>[2] = {}) => assetToken(issuer, ag.tokenEndpoint, o);
/** Valid signature by the real issuer key over exactly this header and payload text. */
const signed = (headerText: string | Buffer, payloadText: string | Buffer) => signRawJws(headerText, payloadText, issuer.keys[0]!.privateKey);

/** The attack must be refused at the token endpoint (both grants) and in the bearer sequence. */
async function expectRefusedEverywhere(token: string, where: { resource: boolean } = { resource: true }): Promise<void> {
  const bearer = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: token });
  expectFailClosed(bearer, 400, 'invalid_grant');
  const exchange = await postForm(ag.tokenEndpoint, { grant_type: TOKEN_EXCHANGE, subject_token: token, subject_token_type: JWT_TYPE });
  expectFailClosed(exchange, 400, 'invalid_request');
  if (!where.resource) return;
  const resource = await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${token}` } });
  expectFailClosed(resource, [400, 401]);
  expect(resource.headers.get('www-authenticate')).toMatch(/^Bearer realm="assetgate", error="(invalid_token|invalid_request)"/);
}

describe('sanity: the attack tooling produces tokens the server accepts when nothing is wrong', () => {
  it('accepts a hand-signed token with a clean header and payload', async () => {
    const res = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: signed(JSON.stringify(goodHeader()), JSON.stringify(goodClaims())) });
    expect(res.status).toBe(200);
  });

  it('accepts a fractional exp (NumericDate may be non-integer, RFC 7519 §2) instead of failing with 503', async () => {
    // Found by this suite: a fractional exp reached Redis as a fractional PX and answered 503.
    const res = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await mint({ claims: { exp: now() + 600.1234567 } }) });
    expect(res.status).toBe(200);
    const viaBearer = await call(`${ag.url}/resource`, { headers: { authorization: `Bearer ${await mint({ claims: { exp: now() + 300.7777777 } })}` } });
    expect(viaBearer.status).toBe(200);
  });
});

describe('algorithm attacks (RFC 8725 §2.1, §3.1)', () => {
  it.each(['none', 'None', 'NONE', 'nOnE'])('refuses alg %s with and without a signature', async (alg) => {
    await expectRefusedEverywhere(rawJws({ alg, typ: 'JWT' }, goodClaims()));
    await expectRefusedEverywhere(rawJws({ alg, kid: issuer.keys[0]!.kid }, goodClaims(), b64u('sig')));
  });

  it('refuses HS256 signed with the RSA public key as the secret, PEM and JWK forms', async () => {
    const publicKey = await importJWK(issuer.keys[0]!.publicJwk, 'RS256');
    const pem = await exportSPKI(publicKey as Parameters<typeof exportSPKI>[0]);
    const secrets = [pem, pem.trim(), JSON.stringify(issuer.keys[0]!.publicJwk), Buffer.from(issuer.keys[0]!.publicJwk.n!, 'base64url')];
    for (const secret of secrets) {
      for (const alg of ['HS256', 'HS384', 'HS512']) {
        const input = `${b64u(JSON.stringify({ alg, kid: issuer.keys[0]!.kid, typ: 'JWT' }))}.${b64u(JSON.stringify(goodClaims()))}`;
        const hash = `sha${alg.slice(2)}`;
        const token = `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
        await expectRefusedEverywhere(token);
      }
    }
  });

  it('refuses an alg of the wrong key family for the kid, and an allowed alg with a foreign key', async () => {
    // ES256 is on this server's allow-list, but key-1 is an RSA key: it must not be used with ES256.
    const ec = await makeKey('key-1', 'ES256');
    await expectRefusedEverywhere(await mint({ key: ec }));
    const ps = await new SignJWT(goodClaims()).setProtectedHeader({ alg: 'PS256', kid: issuer.keys[0]!.kid }).sign(issuer.keys[0]!.privateKey).catch(() => undefined);
    // PS256 with the same RSA key: not on the allow-list here, and the JWK says alg RS256.
    const rsaPss = await makeKey('key-1', 'PS256');
    await expectRefusedEverywhere(ps ?? (await mint({ key: rsaPss })));
    await expectRefusedEverywhere(await mint({ key: rsaPss }));
    // RS384 by the right key: not allowed.
    const rs384 = await new SignJWT(goodClaims()).setProtectedHeader({ alg: 'RS384', kid: issuer.keys[0]!.kid }).sign(issuer.keys[0]!.privateKey).catch(() => undefined);
    if (rs384) await expectRefusedEverywhere(rs384);
  });

  it('refuses alg missing, null, a number, an array, an object that cannot be printed, or with whitespace', async () => {
    for (const alg of [undefined, null, 256, ['RS256'], { toString: 0 }, ' RS256', 'RS256 ', 'rs256']) {
      const header = { ...goodHeader(), alg } as Record<string, unknown>;
      if (alg === undefined) delete header.alg;
      await expectRefusedEverywhere(signed(JSON.stringify(header), JSON.stringify(goodClaims())));
    }
  });
});

describe('header attacks (RFC 7515 §4.1.11, RFC 8725 §3.10)', () => {
  it('refuses crit headers, even validly signed by the issuer', async () => {
    for (const crit of [['exp'], ['x-custom'], ['b64'], [], 'exp', [1]]) {
      const header = { ...goodHeader(), crit, 'x-custom': true, b64: true };
      await expectRefusedEverywhere(signed(JSON.stringify(header), JSON.stringify(goodClaims())));
    }
  });

  it('never fetches jku, x5u or an embedded jwk: the attacker server receives no request', async () => {
    const evil = await makeKey('attacker-key');
    const headers = [
      { jku: `${attacker.url}/jwks` },
      { x5u: `${attacker.url}/cert.pem` },
      { jwk: evil.publicJwk },
      { jku: `${attacker.url}/jwks`, x5u: `${attacker.url}/x5u`, jwk: evil.publicJwk, kid: 'attacker-key' },
      { x5c: ['MIIB'], kid: 'attacker-key' },
    ];
    for (const header of headers) {
      await expectRefusedEverywhere(await mint({ key: evil, header }));
    }
    // An iss naming the attacker is not a reason to fetch from it either (SSRF).
    await expectRefusedEverywhere(await mint({ key: evil, claims: { iss: attacker.url }, header: { jku: `${attacker.url}/id/keys` } }));
    await expectRefusedEverywhere(await mint({ key: evil, claims: { iss: `${attacker.url}/id/keys#` } }));
    expect(attacker.requests).toEqual([]);
  });

  it('treats kid as an opaque identifier: path, SQL-ish, huge, non-string kids are unknown keys', async () => {
    const before = issuer.requests;
    const kids = ['../../../../etc/passwd', '/dev/null', "' OR '1'='1", 'key-1; DROP TABLE keys; --', 'key-1\u0000', '%2e%2e%2f', 'x'.repeat(4000), 1, null, { $ne: '' }, ['key-1']];
    for (const kid of kids) {
      const evil = await makeKey('unused');
      await expectRefusedEverywhere(await mint({ key: evil, header: { kid } }));
      // Signed by the real key but naming another kid: still refused, the kid must match exactly.
      await expectRefusedEverywhere(signed(JSON.stringify({ ...goodHeader(), kid }), JSON.stringify(goodClaims())));
    }
    // Random kids must not turn into an outbound request storm (cooldown: at most one refetch).
    expect(issuer.requests - before).toBeLessThanOrEqual(1);
  });

  it('refuses a wrong typ, a typ that is not a string, and JWE-style headers', async () => {
    // ["JWT"] reads as "JWT" once turned into a string; {"toString":""} cannot be turned into one
    // at all (a TypeError, answered 500 before the typ was required to be a string).
    for (const extra of [{ typ: 'at+jwt' }, { typ: 'JOSE' }, { typ: 1 }, { typ: ['JWT'] }, { typ: { toString: '' } }, { typ: null }, { enc: 'A256GCM' }, { zip: 'DEF' }]) {
      await expectRefusedEverywhere(signed(JSON.stringify({ ...goodHeader(), ...extra }), JSON.stringify(goodClaims())));
    }
  });
});

describe('parsing attacks (RFC 7515 §5.2, RFC 7519 §7.2)', () => {
  it('refuses duplicate member names in the header or the payload, even validly signed', async () => {
    const h = goodHeader();
    const c = goodClaims();
    const header = JSON.stringify(h);
    const payload = JSON.stringify(c);
    const dupHeader = `{"alg":"none","kid":"${h.kid}","typ":"JWT","alg":"RS256"}`;
    const dupHeaderEscaped = `{"alg":"RS256","kid":"${h.kid}","typ":"JWT","\\u0061lg":"RS256"}`;
    const dupDid = payload.replace(/}$/, `,"did":"someone-else"}`);
    const dupExp = payload.replace(/^{/, `{"exp":${now() + 10 ** 9},`);
    const dupNested = payload.replace(/}$/, `,"cnf":{"jwk":{"kty":"RSA","kty":"EC"}}}`);
    const dupEscapedIss = payload.replace(/}$/, `,"\\u0069ss":"${issuer.url}"}`);
    for (const [hd, pl] of [
      [dupHeader, payload],
      [dupHeaderEscaped, payload],
      [header, dupDid],
      [header, dupExp],
      [header, dupNested],
      [header, dupEscapedIss],
    ] as const) {
      await expectRefusedEverywhere(signed(hd, pl));
    }
    // Equal values in different objects, or in arrays, are not duplicates: still accepted.
    const fine = JSON.stringify({ ...c, extra: [{ a: 1 }, { a: 2 }], nested: { did: 'x' } });
    expect((await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: signed(header, fine) })).status).toBe(200);
  });

  it('refuses segments that are not JSON objects, or not UTF-8, even validly signed', async () => {
    const header = JSON.stringify(goodHeader());
    const payload = JSON.stringify(goodClaims());
    const notUtf8 = Buffer.concat([Buffer.from(payload.slice(0, -1)), Buffer.from(',"x":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]);
    const cases: Array<[string | Buffer, string | Buffer]> = [
      ['not json', payload],
      [header, 'not json'],
      [header, '["iss"]'],
      [header, '"a string"'],
      [header, '12345'],
      [header, 'null'],
      ['[]', payload],
      [header, notUtf8],
      [Buffer.concat([Buffer.from(header.slice(0, -1)), Buffer.from(',"x":"\xff"}', 'latin1')]), payload],
      [header, `${payload}   trailing`],
      [header, payload.slice(0, -1)],
      [`\ufeff${header}`, payload],
    ];
    for (const [h, p] of cases) await expectRefusedEverywhere(signed(h, p));
  });

  it('refuses padding, whitespace, standard-base64 characters and spare bits in base64url', async () => {
    const token = await mint();
    const [h, p, s] = token.split('.') as [string, string, string];
    // Whitespace at the edges of a header value is HTTP's own (RFC 9110 §5.5), not the token's.
    await expectRefusedEverywhere(` ${token}`, { resource: false });
    await expectRefusedEverywhere(`${token} `, { resource: false });
    await expectRefusedEverywhere(`${token}\n`, { resource: false });
    const variants = [
      `${h}=.${p}.${s}`,
      `${h}.${p}==.${s}`,
      `${h}.${p}.${s}=`,
      `${h}.${p}.\n${s}`,
      `${h}.${p} .${s}`,
      `${h}.${p}.${s.replace(/-/g, '+').replace(/_/g, '/')}`,
      `${h}\t.${p}.${s}`,
    ].filter((v) => v !== token);
    // A line break cannot travel in a header at all (test/attack/http-attacks.test.ts sends it raw).
    for (const v of variants) await expectRefusedEverywhere(v, { resource: !v.includes('\n') });
    // RS256 signatures are 256 bytes = 342 chars with 4 spare bits: a different last character
    // with the same 2 significant bits decodes to the same signature. One token string per
    // signature: the altered string must be refused even though the bytes verify.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(s.at(-1)!);
    const sibling = alphabet[(last & 0b110000) | ((last + 1) & 0b001111)]!;
    const malleable = `${h}.${p}.${s.slice(0, -1)}${sibling}`;
    expect(Buffer.from(malleable.split('.')[2]!, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(true);
    await expectRefusedEverywhere(malleable);
    // The original still works: nothing above consumed it.
    expect((await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: token })).status).toBe(200);
  });

  it('refuses 1, 2, 4, 5 (JWE) and 6 segments, empty parts and empty tokens', async () => {
    const token = await mint();
    const [h, p, s] = token.split('.') as [string, string, string];
    for (const v of [h, `${h}.${p}`, `${h}.${p}.${s}.${s}`, `${h}.${p}.${s}.${p}.${s}`, `${token}.${h}.${p}`, `.${p}.${s}`, `${h}..${s}`, '..', '....', '.', 'a.b.c']) {
      await expectRefusedEverywhere(v);
    }
    const jwe = `${b64u('{"alg":"RSA-OAEP","enc":"A256GCM"}')}.${b64u('k')}.${b64u('iv')}.${b64u('ct')}.${b64u('tag')}`;
    await expectRefusedEverywhere(jwe);
  });

  it('refuses huge tokens and huge claims with an RFC error, not a crash', async () => {
    const hugeClaim = await mint({ claims: { blob: 'x'.repeat(20_000) } });
    const res = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: hugeClaim });
    expectFailClosed(res, 400, 'invalid_grant');
    expect(res.json.error_description).toMatch(/too large/);
    const hugeHeader = await mint({ header: { pad: 'y'.repeat(20_000) } });
    expectFailClosed(await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: hugeHeader }), 400, 'invalid_grant');
    // Past the form limit it is the body that is refused.
    const enormous = `${'a'.repeat(70_000)}.b.c`;
    expectFailClosed(await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: enormous }), 413, 'invalid_request');
    // Deep nesting inside the size limit: parsed and ignored, or refused, but never a 500.
    const deep = signed(JSON.stringify(goodHeader()), JSON.stringify({ ...goodClaims(), deep: JSON.parse('['.repeat(3000) + ']'.repeat(3000)) as unknown }));
    const deepRes = await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: deep });
    expect([200, 400]).toContain(deepRes.status);
  });
});

describe('claims attacks (RFC 7519 §4.1, RFC 7523 §3)', () => {
  it('refuses numeric claims written as strings', async () => {
    const t = now();
    for (const claims of [{ exp: String(t + 600) }, { nbf: String(t - 5) }, { iat: String(t) }, { exp: `${t + 600}.0` }]) {
      await expectRefusedEverywhere(await mint({ claims }));
    }
  });

  it('refuses exp that is far in the future, infinite, negative, zero, boolean, null, or an object', async () => {
    const t = now();
    for (const exp of [t + 10 ** 9, t + 31 * 86400, 2 ** 53, -1, 0, true, null, { value: t + 600 }, [t + 600]]) {
      await expectRefusedEverywhere(await mint({ claims: { exp } }));
    }
    // 1e400 is Infinity to JSON.parse; only writable as raw text.
    const payload = JSON.stringify({ ...goodClaims(), exp: 0 }).replace('"exp":0', '"exp":1e400');
    await expectRefusedEverywhere(signed(JSON.stringify(goodHeader()), payload));
    const nanish = JSON.stringify({ ...goodClaims(), exp: 0 }).replace('"exp":0', '"exp":-0.0e0');
    await expectRefusedEverywhere(signed(JSON.stringify(goodHeader()), nanish));
  });

  it('refuses audience tricks: prefix, suffix, case, slash, nesting, wildcard, empty', async () => {
    const aud = ag.tokenEndpoint;
    const tricks: unknown[] = [
      `${aud}/extra`,
      aud.slice(0, -1),
      `${aud}/`,
      aud.toUpperCase(),
      aud.replace('http://', 'HTTP://'),
      aud.replace('127.0.0.1', 'localhost'),
      ` ${aud}`,
      `${aud}\u0000`,
      [[aud]],
      [{ aud }],
      [],
      '*',
      [`${aud}x`, `x${aud}`],
      `${aud},${aud}`,
    ];
    for (const audience of tricks) await expectRefusedEverywhere(await mint({ claims: { aud: audience } }));
  });

  it('refuses subject and id tricks: empty, non-string, oversized, lone surrogates; cnf that is not an object', async () => {
    // A lone surrogate (JSON "\ud800") becomes U+FFFD once written as UTF-8: "X\ud800" and "X\udc00"
    // would name the same device, single-use mark and session record.
    const lone = [{ did: 'dev-\ud800' }, { id: 'X\udc00' }, { aid: 'a\ud800' }, { sub: '\udfff', did: undefined }];
    const cnf = [{ cnf: [] }, { cnf: ['x'] }, { cnf: { jwk: [] } }, { cnf: { jwk: ['x'] } }];
    for (const claims of [{ did: '' }, { did: 42 }, { did: { id: 'x' } }, { did: 'd'.repeat(300) }, { id: '' }, { id: ['a'] }, { iss: [issuer.url] }, { iss: `${issuer.url} ` }, ...lone, ...cnf]) {
      await expectRefusedEverywhere(await mint({ claims }));
    }
  });
});

describe('after all of that', () => {
  it('the server is up, honest devices still get through, and nothing answered 500', async () => {
    expect((await call(`${ag.url}/healthz`)).status).toBe(200);
    expect((await postForm(ag.tokenEndpoint, { grant_type: JWT_BEARER, assertion: await mint() })).status).toBe(200);
    const statuses = ag.logs.map((l) => (JSON.parse(l) as { status?: number }).status).filter((s): s is number => s !== undefined);
    expect(statuses.length).toBeGreaterThan(100);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });
});

// Keep an ES256 key pair handy for a foreign-family signature that is itself valid.
void generateKeyPair;
