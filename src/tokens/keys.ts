import { hash } from 'node:crypto';

/**
 * Redis key layout. Everything that belongs to one device shares a Redis Cluster hash tag
 * `{<device tag>}`, so the exchange (replay mark + device block check + token write) and the
 * resource check (token + device revocation mark) are single-slot, single-round-trip operations.
 *
 *   <prefix>{<tag>}:at:<h(token)>        access token record (record-codec.ts), TTL = token life
 *   <prefix>{<tag>}:jti:<h(iss,id)>      single-use mark of an asset token id, TTL = until its exp + skew
 *   <prefix>{<tag>}:rb                   device-wide revocation: access tokens issued at or before this ms are dead
 *   <prefix>{<tag>}:nb                   device-wide block: asset tokens issued before this ms are refused
 *   <prefix>{dp.<jkt[0..12]>}:jti:<h(jkt,jti)>  single-use mark of a DPoP proof (RFC 9449 §11.1),
 *                                        TTL = its iat window; the hash tag comes from the key thumbprint
 *   <prefix><stream>:{<partition tag>}…  ingest streams (src/ingest/partitions.ts)
 *   <prefix>schema                       keyspace schema version (migrations/)
 *   <prefix>issuers                      hash: short issuer id (or, when two share one, the identifier
 *                                        itself) -> issuer identifier, for every issuer the server trusts
 *                                        and no other: rewritten whole at each start (record-codec.ts)
 *   <prefix>resources                    hash: short resource id -> resource identifier for every resource
 *                                        sessions are issued for, and `builtin` -> the built-in resource
 *                                        (PUBLIC_URL): rewritten whole at each start (record-codec.ts)
 *
 * h(x) = the first 22 base64url characters (132 bits) of sha256(x): far beyond guessing or collision
 * at any token count, and the key stays in a smaller jemalloc size class than with all 43
 * (migration 2 renamed the longer keys of earlier versions).
 */
export const HASH_CHARS = 22;

/** The schema version of this layout: what migrations/ brings a keyspace to (a unit test holds them equal). */
export const KEYSPACE_SCHEMA_VERSION = 4;

/** REDIS_KEY_PREFIX when none is set: the server's and the guard library's default. */
export const DEFAULT_KEY_PREFIX = 'ag:';
// crypto.hash: one-shot, no Hash object (about 2.5x cheaper per call than createHash).
export const digest = (value: string): string => hash('sha256', value, 'base64url');

/** The stored form of a secret or id: the first HASH_CHARS base64url characters (132 bits) of sha256. */
export const shortDigest = (value: string): string => digest(value).slice(0, HASH_CHARS);

/** 72 bits of sha256(subject): spreads devices over slots; never used for authorization decisions. */
export const deviceTag = (subject: string): string => digest(subject).slice(0, 12);

export function redisKeys(prefix: string) {
  return {
    accessToken: (tag: string, tokenHash: string) => `${prefix}{${tag}}:at:${tokenHash}`,
    assertionUse: (tag: string, iss: string, jti: string) => `${prefix}{${tag}}:jti:${shortDigest(`${iss}\n${jti}`)}`,
    deviceRevokedBefore: (tag: string) => `${prefix}{${tag}}:rb`,
    deviceNotBefore: (tag: string) => `${prefix}{${tag}}:nb`,
    dpopProof: (jkt: string, jti: string) => `${prefix}{dp.${jkt.slice(0, 12)}}:jti:${shortDigest(`${jkt}\n${jti}`)}`,
    schema: () => `${prefix}schema`,
    issuers: () => `${prefix}issuers`,
    resources: () => `${prefix}resources`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;
