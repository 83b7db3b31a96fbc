import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { nanoid } from 'nanoid';

export interface IssuerKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export type JwksMode = 'ok' | 'fail' | 'slow' | 'garbage' | 'huge' | 'redirect';

export async function makeKey(kid: string, alg = 'RS256'): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** A local issuer serving `/id/keys`, whose behaviour tests can switch (outage, garbage, rotation). */
export class MockIssuer {
  keys: IssuerKey[] = [];
  mode: JwksMode = 'ok';
  requests = 0;
  private server: Server | undefined;
  url = '';

  static async start(initialKeys = 1): Promise<MockIssuer> {
    const issuer = new MockIssuer();
    for (let i = 0; i < initialKeys; i++) issuer.keys.push(await makeKey(`key-${i + 1}`));
    await issuer.listen();
    return issuer;
  }

  private listen(): Promise<void> {
    this.server = createServer((req, res) => {
      if (req.url !== '/id/keys') {
        res.writeHead(404).end();
        return;
      }
      this.requests += 1;
      switch (this.mode) {
        case 'fail':
          res.writeHead(500).end('down');
          return;
        case 'slow':
          setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.jwks())), 3000);
          return;
        case 'garbage':
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": [not json');
          return;
        case 'huge':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ keys: [], pad: 'x'.repeat(2 * 1024 * 1024) }));
          return;
        case 'redirect':
          res.writeHead(302, { location: 'http://127.0.0.1:1/evil' }).end();
          return;
        default:
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.jwks()));
      }
    });
    return new Promise((resolve) => {
      this.server!.listen(0, '127.0.0.1', () => {
        this.url = `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
        resolve();
      });
    });
  }

  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }

  /** Adds a new key and (optionally) drops the old ones: a rotation without notice. */
  async rotate(dropOld = true): Promise<IssuerKey> {
    const key = await makeKey(`key-${nanoid(6)}`);
    this.keys = dropOld ? [key] : [...this.keys, key];
    return key;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

export interface AssetTokenOptions {
  key?: IssuerKey;
  header?: Record<string, unknown>;
  /** Claims to merge over the defaults; a value of undefined removes the claim. */
  claims?: Record<string, unknown>;
  nowSeconds?: number;
}

/** A Salesforce-shaped asset token (aud array, did, aid, id, nbf, exp; no sub). */
export async function assetToken(issuer: { url: string; keys: IssuerKey[] }, audience: string, o: AssetTokenOptions = {}): Promise<string> {
  const key = o.key ?? issuer.keys[0]!;
  const now = o.nowSeconds ?? Math.floor(Date.now() / 1000);
  const claims: JWTPayload = {
    iss: issuer.url,
    aud: [audience],
    nbf: now - 5,
    exp: now + 600,
    id: `05b${nanoid(12)}`,
    did: crypto.randomUUID(),
    aid: `02i${nanoid(12)}`,
  };
  for (const [k, v] of Object.entries(o.claims ?? {})) {
    if (v === undefined) delete claims[k];
    else claims[k] = v;
  }
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...o.header }).sign(key.privateKey);
}

/** Builds a compact JWS by hand (for attacks jose refuses to sign). */
export function rawJws(header: object, payload: object, signature = ''): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64(header)}.${b64(payload)}.${signature}`;
}
