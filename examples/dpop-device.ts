/**
 * A device that proves possession of its key on every request (RFC 9449 DPoP), against assetgate
 * running with its development defaults (embedded development issuer):
 *
 *   npm run build && npm start                       # in one shell
 *   npm run example:dpop-device -- http://localhost:3000
 *
 * 1. The device creates its key pair. A real device keeps the private half in secure storage; its
 *    public half is what Salesforce puts in the asset token's `cnf.jwk` (RFC 7800).
 * 2. It gets an asset token bound to that key (here from the development issuer, `cnf_jwk`).
 * 3. It exchanges the asset token at /oauth2/token with a DPoP proof: the session is bound to the key
 *    (`token_type: "DPoP"`), so a copied access token is worthless without the key.
 * 4. It calls /resource with `Authorization: DPoP <token>` and a fresh proof carrying `ath`.
 * When the server demands nonces (DPOP_NONCE_SECRET), it answers `use_dpop_nonce` with a
 * `DPoP-Nonce` header; the device retries once with that nonce.
 */
import { createHash, randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export interface DeviceRun {
  tokenType: string;
  resource: Record<string, unknown>;
}

export async function runDevice(baseUrl: string): Promise<DeviceRun> {
  // 1. The device key (ES256). Only the public JWK ever leaves the device.
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);

  // 2. An asset token whose cnf.jwk is that key.
  const minted = await fetch(`${baseUrl}/dev-issuer/asset-tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ cnf_jwk: jwk }),
  });
  if (!minted.ok) throw new Error(`minting failed: ${minted.status} ${await minted.text()}`);
  const { asset_token: assetToken } = (await minted.json()) as { asset_token: string };

  // A proof for one request (RFC 9449 §4.2): method, URL without query, fresh jti, iat, and at a
  // resource the hash of the access token (ath). The latest server nonce goes in when we have one.
  let nonce: string | undefined;
  const proof = (htm: string, htu: string, accessToken?: string): Promise<string> => {
    const claims: Record<string, string> = { htm, htu, jti: randomUUID() };
    if (accessToken) claims.ath = createHash('sha256').update(accessToken).digest('base64url');
    if (nonce) claims.nonce = nonce;
    return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).setIssuedAt().sign(privateKey);
  };
  // Sends, keeps the newest DPoP-Nonce, and retries once when the server asked for a nonce (§8).
  const send = async (request: () => Promise<Response>): Promise<Response> => {
    for (let attempt = 0; ; attempt++) {
      const res = await request();
      const fresh = res.headers.get('dpop-nonce');
      if (fresh) nonce = fresh;
      const askedForNonce =
        /error="use_dpop_nonce"/.test(res.headers.get('www-authenticate') ?? '') ||
        (res.status === 400 && ((await res.clone().json().catch(() => ({}))) as { error?: string }).error === 'use_dpop_nonce');
      if (!askedForNonce || attempt > 0) return res;
    }
  };

  // 3. The exchange, with a proof from the cnf key.
  const tokenUrl = `${baseUrl}/oauth2/token`;
  const tokenResponse = await send(async () =>
    fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await proof('POST', tokenUrl) },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: assetToken }),
    }),
  );
  const session = (await tokenResponse.json()) as { access_token?: string; token_type?: string; error?: string };
  if (!session.access_token) throw new Error(`exchange failed: ${tokenResponse.status} ${JSON.stringify(session)}`);

  // 4. A call with the bound token: the DPoP scheme and a proof covering the token.
  const resourceUrl = `${baseUrl}/resource`;
  const accessToken = session.access_token;
  const resourceResponse = await send(async () =>
    fetch(resourceUrl, { headers: { authorization: `DPoP ${accessToken}`, dpop: await proof('GET', resourceUrl, accessToken) } }),
  );
  const resource = (await resourceResponse.json()) as Record<string, unknown>;
  if (!resourceResponse.ok) throw new Error(`resource call failed: ${resourceResponse.status} ${JSON.stringify(resource)}`);
  return { tokenType: session.token_type ?? '', resource };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const baseUrl = (process.argv[2] ?? 'http://localhost:3000').replace(/\/+$/, '');
  runDevice(baseUrl).then(
    (run) => console.log(JSON.stringify(run, null, 2)),
    (err: Error) => {
      console.error(err.message);
      process.exitCode = 1;
    },
  );
}
