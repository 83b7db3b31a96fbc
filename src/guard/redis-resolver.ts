import { toSeconds } from '../clock.js';
import { accessTokenHandle } from '../tokens/access-token.js';
import type { AccessTokenRecord } from '../tokens/store.js';
import type { DeviceClaims, TokenResolver } from './claims.js';
import type { AccessTokenReader } from '../tokens/store.js';

export const claimsOfRecord = (record: AccessTokenRecord): DeviceClaims => {
  const claims: DeviceClaims = { sub: record.sub, aud: [...record.aud], exp: toSeconds(record.exp), iat: toSeconds(record.iat), assetTokenIssuer: record.iss };
  if (record.did !== undefined) claims.did = record.did;
  if (record.aid !== undefined) claims.aid = record.aid;
  if (record.scope !== undefined) claims.scope = record.scope;
  if (record.cnf) claims.cnf = { jkt: record.cnf.jkt };
  return claims;
};

/** Redis mode: a token is looked up in assetgate's own keyspace (redisTokenReader), no network hop beyond Redis. */
export function redisResolver(reader: AccessTokenReader): TokenResolver {
  return {
    async resolve(token: string): Promise<DeviceClaims | null> {
      const handle = accessTokenHandle(token);
      if (!handle) return null;
      const record = await reader.findAccessToken(handle);
      return record ? claimsOfRecord(record) : null;
    },
  };
}
