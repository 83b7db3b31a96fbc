import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exportJWK, generateSecret, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import { accessTokenHash } from '../../src/dpop/proof.js';
import { shortDigest } from '../../src/tokens/keys.js';
import { decodeRecord, IssuerDirectory, ResourceDirectory } from '../../src/tokens/record-codec.js';
import { call, postForm, startAssetgate, TestClock, type Harness } from '../support/harness.js';
import { deviceKey, dpopProof, rawRequest, type DeviceKey } from '../support/dpop.js';
import { assetToken, MockIssuer, rawJws } from '../support/mock-issuer.js';
import { keysUnder } from '../support/redis.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const ALGS = 'algs="ES256 RS256 PS256 EdDSA"';
/** RFC 9728 §5.1: every challenge of the built-in resource names its metadata. */
const metadataOf = (h: Harness): string => `resource_metadata="${h.url}/.well-known/oauth-protected-resource"`;

let issuer: MockIssuer;
let ag: Harness;
let device: DeviceKey;
let otherDevice: DeviceKey;

beforeAll(async () => {
  issuer = await MockIssuer.start();
  ag = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url } });
  device = await deviceKey('ES256');
  otherDevice = await deviceKey('ES256');
});
afterAll(async () => {
  await ag.close();
  await issuer.close();
});

const now = () => Math.floor(Date.now() / 1000);

/** An asset token carrying the device key in cnf.jwk (RFC 7800), or none with `key: null`. */
const boundAsset = (h: Harness, key: DeviceKey | null, claims: Record<string, unknown> = {}) =>
  assetToken(issuer, h.tokenEndpoint, { claims: { ...(key ? { cnf: { jwk: key.jwk } } : {}), ...claims } });

const exchange = (h: Harness, assertion: string, proof?: string) =>
  postForm(h.tokenEndpoint, { grant_type: JWT_BEARER, assertion }, proof === undefined ? {} : { dpop: proof });

const tokenProof = (h: Harness, key: DeviceKey, o: Partial<Parameters<typeof dpopProof>[1]> = {}) => dpopProof(key, { htu: h.tokenEndpoint, ...o });

const getResource = (h: Harness, authorization: string, proof?: string) =>
  call(`${h.url}/resource`, { headers: { authorization, ...(proof === undefined ? {} : { dpop: proof }) } });

/** A DPoP-bound access token of `key`. */
async function boundToken(h: Harness, key: DeviceKey): Promise<string> {
  const res = await exchange(h, await boundAsset(h, key), await tokenProof(h, key));
  expect(res.status).toBe(200);
  expect(res.json.token_type).toBe('DPoP');
  return res.json.access_token as string;
}

const expectProofError = (res: { status: number; json: Record<string, unknown>; headers: Headers }) => {
  expect(res.status).toBe(400);
  expect(res.json.error).toBe('invalid_dpop_proof');
  expect(typeof res.json.error_description).toBe('string');
  expect(res.headers.get('www-authenticate')).toBeNull(); // token endpoint: JSON only (strict clients)
};

describe('token endpoint with a DPoP proof (RFC 9449 §5), policy optional', () => {
  it.each(['ES256', 'RS256', 'PS256', 'EdDSA'])('binds the session to a %s device key: token_type DPoP, cnf.jkt stored', async (alg) => {
    const key = await deviceKey(alg);
    const res = await exchange(ag, await boundAsset(ag, key), await tokenProof(ag, key));
    expect(res.status).toBe(200);
    expect(res.json.token_type).toBe('DPoP');
    const token = res.json.access_token as string;
    const stored = await ag.redis!.get((await keysUnder(ag.redis!, ag.prefix)).find((k) => k.endsWith(`:at:${shortDigest(token)}`))!);
    // The issuer short ids are resolved through the registry the server wrote at start-up.
    const registry = new IssuerDirectory(Object.values(await ag.redis!.hgetall(`${ag.prefix}issuers`)));
    expect(decodeRecord(stored!, registry, new ResourceDirectory(ag.url))?.cnf?.jkt).toBe(key.jkt);

    const proof = await dpopProof(key, { htm: 'GET', htu: `${ag.url}/resource`, token });
    const resource = await getResource(ag, `DPoP ${token}`, proof);
    expect(resource.status).toBe(200);
    expect(resource.json).toMatchObject({ via: 'access_token', jkt: key.jkt });
  });

  it('binds through RFC 8693 token exchange too', async () => {
    const res = await postForm(
      ag.tokenEndpoint,
      { grant_type: TOKEN_EXCHANGE, subject_token: await boundAsset(ag, device), subject_token_type: JWT_TYPE },
      { dpop: await tokenProof(ag, device) },
    );
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ token_type: 'DPoP', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
  });

  it('issues a Bearer session when no proof is sent', async () => {
    const res = await exchange(ag, await boundAsset(ag, device));
    expect(res.status).toBe(200);
    expect(res.json.token_type).toBe('Bearer');
    expect((await getResource(ag, `Bearer ${String(res.json.access_token)}`)).status).toBe(200);
  });

  it('binds to the proof key when the asset token has no cnf (plain RFC 9449)', async () => {
    const res = await exchange(ag, await boundAsset(ag, null), await tokenProof(ag, otherDevice));
    expect(res.status).toBe(200);
    expect(res.json.token_type).toBe('DPoP');
    const token = res.json.access_token as string;
    const ok = await getResource(ag, `DPoP ${token}`, await dpopProof(otherDevice, { htm: 'GET', htu: `${ag.url}/resource`, token }));
    expect(ok.json.jkt).toBe(otherDevice.jkt);
  });

  it('ignores the query of htu (§4.3 item 9) and normalizes scheme and host case', async () => {
    const htu = ag.tokenEndpoint.replace('http://', 'HTTP://') + '?x=1#f';
    expect((await exchange(ag, await boundAsset(ag, device), await tokenProof(ag, device, { htu }))).status).toBe(200);
    // A public URL whose host has letters, so its case can vary (the loopback address has none).
    const named = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, PUBLIC_URL: 'https://assetgate.example' } });
    try {
      const asset = () => assetToken(issuer, 'https://assetgate.example/oauth2/token', { claims: { cnf: { jwk: device.jwk } } });
      const mixedCase = await exchange(named, await asset(), await tokenProof(named, device, { htu: 'HTTPS://AssetGate.EXAMPLE/oauth2/token?x=1' }));
      expect(mixedCase.status).toBe(200);
      expectProofError(await exchange(named, await asset(), await tokenProof(named, device, { htu: 'https://assetgate.example.org/oauth2/token' })));
    } finally {
      await named.close();
    }
  });

  it('refuses a proof from another key than cnf.jwk, without consuming the asset token', async () => {
    const asset = await boundAsset(ag, device);
    const wrong = await exchange(ag, asset, await tokenProof(ag, otherDevice));
    expectProofError(wrong);
    expect(wrong.json.error_description).toMatch(/not signed by the key/);
    expect((await exchange(ag, asset, await tokenProof(ag, device))).status).toBe(200);
  });

  it('refuses a proof whose signature is from another key than its jwk header', async () => {
    expectProofError(await exchange(ag, await boundAsset(ag, device), await tokenProof(ag, device, { signWith: otherDevice })));
  });

  it('refuses a wrong htm, a wrong htu path or host, and a non-http htu', async () => {
    for (const o of [
      { htm: 'GET' },
      { htm: 'post' },
      { htu: `${ag.url}/resource` },
      { htu: ag.tokenEndpoint.replace('127.0.0.1', 'localhost') },
      { htu: 'urn:x:oauth2/token' },
    ]) {
      expectProofError(await exchange(ag, await boundAsset(ag, device), await tokenProof(ag, device, o)));
    }
  });

  it('refuses a stale iat and an iat in the future (window 60 s + skew 30 s)', async () => {
    const stale = await exchange(ag, await boundAsset(ag, device), await tokenProof(ag, device, { iat: now() - 95 }));
    expectProofError(stale);
    expect(stale.json.error_description).toMatch(/too old/);
    const future = await exchange(ag, await boundAsset(ag, device), await tokenProof(ag, device, { iat: now() + 40 }));
    expectProofError(future);
    expect(future.json.error_description).toMatch(/future/);
    // inside the window
    expect((await exchange(ag, await boundAsset(ag, device), await tokenProof(ag, device, { iat: now() - 50 }))).status).toBe(200);
  });

  it('refuses a replayed proof (same jti)', async () => {
    const proof = await tokenProof(ag, device, { jti: 'only-once' });
    expect((await exchange(ag, await boundAsset(ag, device), proof)).status).toBe(200);
    const again = await exchange(ag, await boundAsset(ag, device), proof);
    expectProofError(again);
    expect(again.json.error_description).toMatch(/already been used/);
    // the mark is per key: another device may use the same jti
    expect((await exchange(ag, await boundAsset(ag, otherDevice), await tokenProof(ag, otherDevice, { jti: 'only-once' }))).status).toBe(200);
  });

  it('refuses a jti with a lone surrogate: two such ids would share one replay mark once written as UTF-8', async () => {
    for (const jti of ['lone-\ud800', 'lone-\udc00']) {
      const res = await exchange(ag, await boundAsset(ag, device), await tokenProof(ag, device, { jti }));
      expectProofError(res);
      expect(res.json.error_description).toMatch(/well-formed/);
    }
    expect((await exchange(ag, await boundAsset(ag, device), await tokenProof(ag, device, { jti: 'paired-\ud83d\ude00' }))).status).toBe(200);
  });

  it('keeps the jti mark under its own hash tag with a TTL of the iat window', async () => {
    await exchange(ag, await boundAsset(ag, device), await tokenProof(ag, device, { jti: 'ttl-check' }));
    const key = (await keysUnder(ag.redis!, ag.prefix)).find((k) => k.endsWith(`:jti:${shortDigest(`${device.jkt}\nttl-check`)}`));
    expect(key).toBe(`${ag.prefix}{dp.${device.jkt.slice(0, 12)}}:jti:${shortDigest(`${device.jkt}\nttl-check`)}`);
    const ttl = await ag.redis!.pttl(key!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(91_000);
  });

  it('refuses a jwk header carrying private key material', async () => {
    const privateJwk = await exportJWK(device.privateKey);
    expect(privateJwk.d).toBeDefined();
    const res = await exchange(ag, await boundAsset(ag, device), await tokenProof(ag, device, { header: { jwk: privateJwk } }));
    expectProofError(res);
    expect(res.json.error_description).toMatch(/private key material/);
  });

  it('refuses alg none, HS256 and an alg that cannot be printed', async () => {
    const claims = { htm: 'POST', htu: ag.tokenEndpoint, iat: now(), jti: 'none-1' };
    const none = rawJws({ alg: 'none', typ: 'dpop+jwt', jwk: device.jwk }, claims);
    expectProofError(await exchange(ag, await boundAsset(ag, device), none));
    expectProofError(await exchange(ag, await boundAsset(ag, device), rawJws({ alg: { toString: 0 }, typ: 'dpop+jwt', jwk: device.jwk }, claims)));
    const secret = await generateSecret('HS256', { extractable: true });
    const octJwk = { kty: 'oct', k: (await exportJWK(secret)).k! }; // a symmetric key: jose's types forbid it inline
    const hs = await new SignJWT({ ...claims, jti: 'hs-1' }).setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: octJwk }).sign(secret);
    const res = await exchange(ag, await boundAsset(ag, device), hs);
    expectProofError(res);
    const hsPublicJwk = await new SignJWT({ ...claims, jti: 'hs-2' }).setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: device.jwk }).sign(secret);
    expectProofError(await exchange(ag, await boundAsset(ag, device), hsPublicJwk));
  });

  it('refuses a wrong or missing typ', async () => {
    for (const typ of ['JWT', 'at+jwt', undefined]) {
      expectProofError(await exchange(ag, await boundAsset(ag, device), await tokenProof(ag, device, { header: { typ } })));
    }
    // RFC 7515 §4.1.9: the application/ prefix may be spelled out
    expect((await exchange(ag, await boundAsset(ag, device), await tokenProof(ag, device, { header: { typ: 'application/dpop+jwt' } }))).status).toBe(200);
  });

  it('refuses a missing jwk, a missing jti, htm, htu or iat, a tampered payload and a non-JWS', async () => {
    expectProofError(await exchange(ag, await boundAsset(ag, device), await tokenProof(ag, device, { header: { jwk: undefined } })));
    for (const claim of ['jti', 'htm', 'htu', 'iat']) {
      expectProofError(await exchange(ag, await boundAsset(ag, device), await tokenProof(ag, device, { claims: { [claim]: undefined } })));
    }
    const [h, , s] = (await tokenProof(ag, device)).split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ htm: 'POST', htu: ag.tokenEndpoint, iat: now(), jti: 'forged' })).toString('base64url')}.${s}`;
    expectProofError(await exchange(ag, await boundAsset(ag, device), forged));
    expectProofError(await exchange(ag, await boundAsset(ag, device), 'not-a-jwt'));
  });

  it('refuses two DPoP headers (§4.3 item 1), sent as two lines or joined into one', async () => {
    const a = await tokenProof(ag, device);
    const b = await tokenProof(ag, device);
    const body = new URLSearchParams({ grant_type: JWT_BEARER, assertion: await boundAsset(ag, device) }).toString();
    const res = await rawRequest(ag.tokenEndpoint, 'POST', { 'content-type': 'application/x-www-form-urlencoded', dpop: [a, b] }, body);
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_dpop_proof');
    expect(res.json.error_description).toMatch(/exactly one/);
    expectProofError(await exchange(ag, await boundAsset(ag, device), `${a}, ${b}`));
  });

  it('refuses an asset token whose cnf.jwk is a private key', async () => {
    const res = await exchange(ag, await boundAsset(ag, null, { cnf: { jwk: await exportJWK(device.privateKey) } }), await tokenProof(ag, device));
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_grant');
  });
});

describe('resources with a DPoP-bound access token (RFC 9449 §7)', () => {
  const resourceProof = (key: DeviceKey, token: string, o: Partial<Parameters<typeof dpopProof>[1]> = {}) =>
    dpopProof(key, { htm: 'GET', htu: `${ag.url}/resource`, token, ...o });

  it('refuses a bound token sent as Bearer (§7.2 downgrade), with a DPoP challenge', async () => {
    const token = await boundToken(ag, device);
    for (const proof of [undefined, await resourceProof(device, token)]) {
      const res = await getResource(ag, `Bearer ${token}`, proof);
      expect(res.status).toBe(401);
      expect(res.json.error).toBe('invalid_token');
      expect(res.headers.get('www-authenticate')).toMatch(new RegExp(`^DPoP realm="assetgate", error="invalid_token", error_description="[^"]+", ${ALGS}, ${metadataOf(ag).replace(/[.?]/g, '\\$&')}$`));
    }
  });

  it('refuses the DPoP scheme without a proof, with a proof lacking ath, or with ath of another token', async () => {
    const token = await boundToken(ag, device);
    const other = await boundToken(ag, device);
    const cases = [undefined, await resourceProof(device, token, { claims: { ath: undefined } }), await resourceProof(device, other)];
    for (const proof of cases) {
      const res = await getResource(ag, `DPoP ${token}`, proof);
      expect(res.status).toBe(401);
      expect(res.json.error).toBe('invalid_dpop_proof');
      expect(res.headers.get('www-authenticate')).toMatch(new RegExp(`^DPoP realm="assetgate", error="invalid_dpop_proof", error_description="[^"]+", ${ALGS}, ${metadataOf(ag).replace(/[.?]/g, '\\$&')}$`));
    }
    expect((await getResource(ag, `DPoP ${token}`, await resourceProof(device, token))).status).toBe(200);
  });

  it('refuses a proof from another key, for another method or URL, or replayed', async () => {
    const token = await boundToken(ag, device);
    const cases = [
      await dpopProof(otherDevice, { htm: 'GET', htu: `${ag.url}/resource`, token }),
      await resourceProof(device, token, { htm: 'POST' }),
      await resourceProof(device, token, { htu: `${ag.url}/ingestapi` }),
    ];
    for (const proof of cases) expect((await getResource(ag, `DPoP ${token}`, proof)).json.error).toBe('invalid_dpop_proof');
    const once = await resourceProof(device, token);
    expect((await getResource(ag, `DPoP ${token}`, once)).status).toBe(200);
    expect((await getResource(ag, `DPoP ${token}`, once)).json.error).toBe('invalid_dpop_proof');
  });

  it('refuses an unbound token with the DPoP scheme', async () => {
    const res = await exchange(ag, await boundAsset(ag, device));
    const token = res.json.access_token as string;
    const denied = await getResource(ag, `DPoP ${token}`, await resourceProof(device, token));
    expect(denied.status).toBe(401);
    expect(denied.json.error).toBe('invalid_token');
    expect(denied.headers.get('www-authenticate')).toMatch(/^DPoP /);
  });

  it('accepts an asset token with the DPoP scheme on /ingestapi (bearer sequence, ath over the asset token)', async () => {
    const asset = await boundAsset(ag, device);
    const proof = await dpopProof(device, { htu: `${ag.url}/ingestapi`, token: asset });
    const res = await call(`${ag.url}/ingestapi`, { method: 'POST', headers: { authorization: `DPoP ${asset}`, dpop: proof, 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(202);
  });

  it('refuses an asset token without cnf under the DPoP scheme', async () => {
    const asset = await boundAsset(ag, null);
    const res = await getResource(ag, `DPoP ${asset}`, await resourceProof(device, asset));
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('invalid_token');
  });

  it('works with a strict client: oauth4webapi DPoP at the token endpoint and the resource', async () => {
    const as: oauth.AuthorizationServer = { issuer: ag.url, token_endpoint: ag.tokenEndpoint };
    const client: oauth.Client = { client_id: 'device' };
    const key = await deviceKey('ES256');
    const DPoP = oauth.DPoP(client, { privateKey: key.privateKey, publicKey: key.publicKey });
    const response = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), JWT_BEARER, new URLSearchParams({ assertion: await boundAsset(ag, key) }), {
      DPoP,
      [oauth.allowInsecureRequests]: true,
    });
    const result = await oauth.processGenericTokenEndpointResponse(as, client, response);
    expect(result.token_type).toBe('dpop');
    const resource = await oauth.protectedResourceRequest(result.access_token, 'GET', new URL(`${ag.url}/resource`), new Headers(), null, {
      DPoP,
      [oauth.allowInsecureRequests]: true,
    });
    expect(resource.status).toBe(200);
    expect(((await resource.json()) as { jkt: string }).jkt).toBe(key.jkt);
    // and it reads our DPoP challenge on a downgrade
    await expect(
      oauth.protectedResourceRequest(result.access_token, 'GET', new URL(`${ag.url}/resource`), new Headers(), null, { [oauth.allowInsecureRequests]: true }),
    ).rejects.toMatchObject({ code: 'OAUTH_WWW_AUTHENTICATE_CHALLENGE', cause: [{ scheme: 'dpop', parameters: { error: 'invalid_token' } }] });
  });
});

describe('policies', () => {
  let off: Harness;
  let required: Harness;
  beforeAll(async () => {
    off = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, PROOF_OF_POSSESSION: 'off' } });
    required = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, PROOF_OF_POSSESSION: 'required' } });
  });
  afterAll(async () => {
    await off.close();
    await required.close();
  });

  it('off: ignores the DPoP header (as a server without DPoP, §5) and offers Bearer only', async () => {
    const res = await exchange(off, await boundAsset(off, device), await tokenProof(off, device));
    expect(res.status).toBe(200);
    expect(res.json.token_type).toBe('Bearer');
    expect((await getResource(off, `Bearer ${String(res.json.access_token)}`)).status).toBe(200);
    // even a broken proof is ignored: the server does not read it
    expect((await exchange(off, await boundAsset(off, device), 'garbage')).json.token_type).toBe('Bearer');
    expect((await call(`${off.url}/resource`)).headers.get('www-authenticate')).toBe(`Bearer realm="assetgate", ${metadataOf(off)}`);
  });

  it('required: binds with a proof from the cnf key', async () => {
    const token = await boundToken(required, device);
    const res = await getResource(required, `DPoP ${token}`, await dpopProof(device, { htm: 'GET', htu: `${required.url}/resource`, token }));
    expect(res.status).toBe(200);
  });

  it('required: refuses an exchange without a proof (invalid_dpop_proof) or without cnf (invalid_grant / invalid_request)', async () => {
    expectProofError(await exchange(required, await boundAsset(required, device)));
    const noCnf = await exchange(required, await boundAsset(required, null), await tokenProof(required, device));
    expect(noCnf.status).toBe(400);
    expect(noCnf.json.error).toBe('invalid_grant');
    const tx = await postForm(required.tokenEndpoint, { grant_type: TOKEN_EXCHANGE, subject_token: await boundAsset(required, null), subject_token_type: JWT_TYPE });
    expect(tx.json.error).toBe('invalid_request');
    expectProofError(await exchange(required, await boundAsset(required, device), await tokenProof(required, otherDevice)));
  });

  it('required: the bearer sequence needs the DPoP scheme and a proof from the cnf key', async () => {
    const asset = await boundAsset(required, device);
    const bearer = await getResource(required, `Bearer ${asset}`);
    expect(bearer.status).toBe(401);
    expect(bearer.json.error).toBe('invalid_token');
    expect(bearer.headers.get('www-authenticate')).toMatch(/^DPoP realm="assetgate", error="invalid_token"/);
    const wrongKey = await getResource(required, `DPoP ${asset}`, await dpopProof(otherDevice, { htm: 'GET', htu: `${required.url}/resource`, token: asset }));
    expect(wrongKey.json.error).toBe('invalid_dpop_proof');
    // neither refusal consumed the asset token
    const ok = await getResource(required, `DPoP ${asset}`, await dpopProof(device, { htm: 'GET', htu: `${required.url}/resource`, token: asset }));
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ via: 'asset_token', jkt: device.jkt });
  });

  it('required: offers only the DPoP challenge', async () => {
    expect((await call(`${required.url}/resource`)).headers.get('www-authenticate')).toBe(`DPoP realm="assetgate", ${ALGS}, ${metadataOf(required)}`);
  });

  it('a per-issuer setting overrides the global default', async () => {
    const second = await MockIssuer.start();
    const h = await startAssetgate({ env: { TRUSTED_ISSUERS: `${issuer.url},${second.url}`, PROOF_OF_POSSESSION: 'off' } });
    try {
      h.runtime.deps.issuers.get(second.url)!.proofOfPossession = 'required';
      const fromSecond = (key: DeviceKey | null) => assetToken(second, h.tokenEndpoint, { claims: key ? { cnf: { jwk: key.jwk } } : {} });
      expectProofError(await exchange(h, await fromSecond(device)));
      expect((await exchange(h, await fromSecond(device), await tokenProof(h, device))).json.token_type).toBe('DPoP');
      expect((await exchange(h, await boundAsset(h, device), await tokenProof(h, device))).json.token_type).toBe('Bearer');
      // both schemes are now in use, so both are offered
      expect((await call(`${h.url}/resource`)).headers.get('www-authenticate')).toBe(`Bearer realm="assetgate", ${metadataOf(h)}, DPoP realm="assetgate", ${ALGS}, ${metadataOf(h)}`);
    } finally {
      await h.close();
      await second.close();
    }
  });

  it('an access token bound under one policy stays bound when the policy is off', async () => {
    const token = await boundToken(ag, device);
    ag.runtime.deps.issuers.get(issuer.url)!.proofOfPossession = 'off';
    try {
      // Refused as a bound token (an unknown token would be refused too, for another reason)...
      const asBearer = await getResource(ag, `Bearer ${token}`);
      expect([asBearer.status, asBearer.json.error]).toEqual([401, 'invalid_token']);
      expect(asBearer.json.error_description).toMatch(/DPoP-bound/);
      // ...and still good with a proof from its key: the token is live, only its binding counts.
      const proven = await getResource(ag, `DPoP ${token}`, await dpopProof(device, { htm: 'GET', htu: `${ag.url}/resource`, token }));
      expect(proven.status).toBe(200);
    } finally {
      delete ag.runtime.deps.issuers.get(issuer.url)!.proofOfPossession;
    }
  });
});

describe('server nonces (RFC 9449 §8, §9)', () => {
  let h: Harness;
  const clock = new TestClock();
  const clockNow = () => Math.floor(clock.now() / 1000);
  beforeAll(async () => {
    h = await startAssetgate({ env: { TRUSTED_ISSUERS: issuer.url, DPOP_NONCE_SECRET: 'x'.repeat(40), DPOP_NONCE_LIFETIME_SECONDS: '60' }, clock });
  });
  afterAll(() => h.close());

  it('answers use_dpop_nonce with a DPoP-Nonce header, then accepts the nonce; same at the resource', async () => {
    const asset = await assetToken(issuer, h.tokenEndpoint, { claims: { cnf: { jwk: device.jwk } }, nowSeconds: clockNow() });
    const first = await exchange(h, asset, await tokenProof(h, device, { iat: clockNow() }));
    expect(first.status).toBe(400);
    expect(first.json.error).toBe('use_dpop_nonce');
    expect(first.headers.get('www-authenticate')).toBeNull();
    const nonce = first.headers.get('dpop-nonce')!;
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const wrong = await exchange(h, asset, await tokenProof(h, device, { iat: clockNow(), nonce: 'A'.repeat(43) }));
    expect(wrong.json.error).toBe('use_dpop_nonce');
    const second = await exchange(h, asset, await tokenProof(h, device, { iat: clockNow(), nonce }));
    expect(second.status).toBe(200);
    expect(second.json.token_type).toBe('DPoP');
    expect(second.headers.get('dpop-nonce')).toBe(nonce);
    const token = second.json.access_token as string;

    const htu = `${h.url}/resource`;
    const noNonce = await getResource(h, `DPoP ${token}`, await dpopProof(device, { htm: 'GET', htu, token, iat: clockNow() }));
    expect(noNonce.status).toBe(401);
    expect(noNonce.headers.get('www-authenticate')).toMatch(/^DPoP realm="assetgate", error="use_dpop_nonce"/);
    expect(noNonce.headers.get('dpop-nonce')).toBe(nonce);
    expect((await getResource(h, `DPoP ${token}`, await dpopProof(device, { htm: 'GET', htu, token, iat: clockNow(), nonce }))).status).toBe(200);

    // a nonce lives one to two windows; then a fresh one is handed out
    clock.advance(121);
    const stale = await getResource(h, `DPoP ${token}`, await dpopProof(device, { htm: 'GET', htu, token, iat: clockNow(), nonce }));
    expect(stale.json.error).toBe('use_dpop_nonce');
    const fresh = stale.headers.get('dpop-nonce')!;
    expect(fresh).not.toBe(nonce);
    expect((await getResource(h, `DPoP ${token}`, await dpopProof(device, { htm: 'GET', htu, token, iat: clockNow(), nonce: fresh }))).status).toBe(200);
  });

  it('lets oauth4webapi retry with the nonce it was given', async () => {
    const as: oauth.AuthorizationServer = { issuer: h.url, token_endpoint: h.tokenEndpoint };
    const client: oauth.Client = { client_id: 'device', [oauth.clockSkew]: clockNow() - now() };
    const DPoP = oauth.DPoP(client, { privateKey: device.privateKey, publicKey: device.publicKey });
    const asset = await assetToken(issuer, h.tokenEndpoint, { claims: { cnf: { jwk: device.jwk } }, nowSeconds: clockNow() });
    const request = () =>
      oauth.genericTokenEndpointRequest(as, client, oauth.None(), JWT_BEARER, new URLSearchParams({ assertion: asset }), { DPoP, [oauth.allowInsecureRequests]: true });
    let failure: unknown;
    try {
      await oauth.processGenericTokenEndpointResponse(as, client, await request());
    } catch (err) {
      failure = err;
    }
    expect(oauth.isDPoPNonceError(failure)).toBe(true);
    const result = await oauth.processGenericTokenEndpointResponse(as, client, await request());
    expect(result.token_type).toBe('dpop');
  });
});

describe('ath (RFC 9449 §4.2)', () => {
  it('is base64url(SHA-256(ASCII token)), as in the RFC 9449 §7.1 example', () => {
    expect(accessTokenHash('Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU')).toBe('fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo');
  });
});
