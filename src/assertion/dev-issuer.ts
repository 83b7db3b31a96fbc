import type { Context } from 'koa';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { nanoid } from 'nanoid';
import type { Clock } from '../clock.js';
import { isUsableId, MAX_ID_LENGTH } from './claims-policy.js';
import { InvalidRequest } from '../oauth/errors.js';
import { bodyMediaType, isJsonMediaType, parseFormBody, readBody } from '../oauth/form.js';
import { parseJson, readJsonBody } from '../resource/json-body.js';

/**
 * The embedded development issuer: with no TRUSTED_ISSUERS outside production, assetgate trusts
 * itself at `{PUBLIC_URL}/dev-issuer`, publishes a fresh RSA key at `/dev-issuer/id/keys` and mints
 * Salesforce-shaped asset tokens at `POST /dev-issuer/asset-tokens`. Keys live in memory only.
 */
export interface DevIssuer {
  issuer: string;
  jwks(): { keys: JWK[] };
  mint(input: DevTokenRequest): Promise<string>;
}

export interface DevTokenRequest {
  did?: string;
  aid?: string;
  aud?: string[];
  ttlSeconds?: number;
  cnf?: { jwk: JWK };
}

export const DEV_KID = 'assetgate-dev-1';
const DEV_BODY_MAX_BYTES = 16 * 1024;

export async function createDevIssuer(publicUrl: string, defaultAudience: string, clock: Clock): Promise<DevIssuer> {
  const issuer = `${publicUrl}/dev-issuer`;
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: DEV_KID, alg: 'RS256', use: 'sig' };
  return {
    issuer,
    jwks: () => ({ keys: [publicJwk] }),
    async mint(input: DevTokenRequest): Promise<string> {
      const now = Math.floor(clock.now() / 1000);
      const claims: Record<string, unknown> = {
        aud: input.aud ?? [defaultAudience],
        did: input.did ?? crypto.randomUUID(),
        aid: input.aid ?? `02i${nanoid(15)}`,
        id: `05b${nanoid(15)}`,
      };
      if (input.cnf) claims.cnf = input.cnf;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: DEV_KID, typ: 'JWT' })
        .setIssuer(issuer)
        .setNotBefore(now)
        .setExpirationTime(now + (input.ttlSeconds ?? 600))
        .sign(privateKey);
    },
  };
}

function parseDevRequest(fields: Record<string, unknown>): DevTokenRequest {
  const req: DevTokenRequest = {};
  const str = (name: string) => {
    const v = fields[name];
    if (v === undefined) return undefined;
    // The verifier's own rule for ids: a token it would refuse is not minted.
    if (!isUsableId(v)) throw new InvalidRequest(`"${name}" must be a non-empty, well-formed string of at most ${MAX_ID_LENGTH} characters`);
    return v;
  };
  const did = str('did');
  const aid = str('aid');
  if (did) req.did = did;
  if (aid) req.aid = aid;
  const aud = fields.aud;
  if (aud !== undefined) {
    const list = Array.isArray(aud) ? aud : [aud];
    if (!list.every((a) => typeof a === 'string' && a.length > 0)) throw new InvalidRequest('"aud" must be a string or an array of strings');
    req.aud = list as string[];
  }
  const ttl = fields.ttl ?? fields.ttl_seconds;
  if (ttl !== undefined) {
    const n = Number(ttl);
    if (!Number.isInteger(n) || n < 1 || n > 86400) throw new InvalidRequest('"ttl" must be 1..86400 seconds');
    req.ttlSeconds = n;
  }
  const cnf = fields.cnf_jwk ?? (fields.cnf as { jwk?: unknown } | undefined)?.jwk;
  if (cnf !== undefined) {
    const jwk = typeof cnf === 'string' ? parseJson(cnf, '"cnf_jwk"') : cnf;
    if (typeof jwk !== 'object' || jwk === null || 'd' in jwk) throw new InvalidRequest('"cnf_jwk" must be a public JWK');
    req.cnf = { jwk: jwk as JWK };
  }
  return req;
}

/** GET /dev-issuer/id/keys */
export function devJwks(dev: DevIssuer) {
  return function devJwksMiddleware(ctx: Context): void {
    ctx.body = dev.jwks();
  };
}

/** POST /dev-issuer/asset-tokens (JSON or form; all fields optional): mints an asset token. */
export function devMint(dev: DevIssuer) {
  return async function devMintMiddleware(ctx: Context): Promise<void> {
    const fields = isJsonMediaType(bodyMediaType(ctx))
      ? ((await readJsonBody(ctx, DEV_BODY_MAX_BYTES, { optional: true }))?.value ?? {})
      : Object.fromEntries(parseFormBody(await readBody(ctx, DEV_BODY_MAX_BYTES)));
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new InvalidRequest('body must be a JSON object');
    const request = parseDevRequest(fields as Record<string, unknown>);
    const token = await dev.mint(request);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { asset_token: token, issuer: dev.issuer };
  };
}
