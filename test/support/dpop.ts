import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { nanoid } from 'nanoid';

/** A device key pair as a device would hold it. */
export interface DeviceKey {
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

export async function deviceKey(alg = 'ES256'): Promise<DeviceKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, publicKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

export const ath = (token: string): string => createHash('sha256').update(token).digest('base64url');

export interface ProofOptions {
  htm?: string;
  htu: string;
  /** Seconds; defaults to now. */
  iat?: number;
  jti?: string;
  /** The access token to cover: adds `ath`. */
  token?: string;
  nonce?: string;
  /** Header members to merge (undefined removes). */
  header?: Record<string, unknown>;
  /** Claims to merge (undefined removes). */
  claims?: Record<string, unknown>;
  /** Sign with another key than the one in the header. */
  signWith?: DeviceKey;
}

/** A DPoP proof (RFC 9449 §4.2), as a device builds it with jose. */
export async function dpopProof(key: DeviceKey, o: ProofOptions): Promise<string> {
  const claims: Record<string, unknown> = { htm: o.htm ?? 'POST', htu: o.htu, iat: o.iat ?? Math.floor(Date.now() / 1000), jti: o.jti ?? nanoid() };
  if (o.token !== undefined) claims.ath = ath(o.token);
  if (o.nonce !== undefined) claims.nonce = o.nonce;
  for (const [k, v] of Object.entries(o.claims ?? {})) {
    if (v === undefined) delete claims[k];
    else claims[k] = v;
  }
  const header: Record<string, unknown> = { alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk };
  for (const [k, v] of Object.entries(o.header ?? {})) {
    if (v === undefined) delete header[k];
    else header[k] = v;
  }
  const signer = o.signWith ?? key;
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(signer.privateKey);
}

/** A raw HTTP request whose headers may repeat (fetch would join them into one). */
export function rawRequest(
  url: string,
  method: string,
  headers: Record<string, string | string[]>,
  body = '',
): Promise<{ status: number; headers: Record<string, unknown>; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
      });
    });
    // an array value goes out as one header line per element
    for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
    req.setHeader('content-length', String(Buffer.byteLength(body)));
    req.on('error', reject);
    req.end(body);
  });
}
