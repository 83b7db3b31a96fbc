import { hash } from 'node:crypto';

/**
 * Redis key layout. Everything that belongs to one device id shares a Redis Cluster hash tag
 * `{<tag>}` (deviceTag: the id alone, for slot placement only), so the exchange (replay mark + device
 * block check + token write) and the resource check (token + device revocation mark) are
 * single-slot, single-round-trip operations.
 *
 * A device is its issuer plus its id: two trusted issuers naming the same `did` name two devices.
 * Their marks are apart by the issuer key `<ik>` (issuerKey), which every access token also carries
 * (`<tag><ik>.<secret>`, access-token.ts), so the lookup reads the token's own device's mark:
 *
 *   <prefix>{<tag>}:at:<h(token)>        access token record (record-codec.ts), TTL = token life
 *   <prefix>{<tag>}:jti:<h(iss,id)>      single-use mark of an asset token id, TTL = until the last instant it verifies
 *   <prefix>{<tag>}:rb:<ik>              device-wide revocation: access tokens issued at or before this ms are dead;
 *                                        TTL = <prefix>mark-ttl, never shortened by a later revocation
 *   <prefix>{<tag>}:nb:<ik>              device-wide block: asset tokens issued before this ms are refused (no TTL:
 *                                        an asset token's exp is not bounded by its iat)
 *   <prefix>{<tag>}:rb, {<tag>}:nb       the same marks of schema 4 and earlier, of the id under every issuer: still
 *                                        read for sessions minted then (tokens without <ik>) and for blocks written
 *                                        then (their issuer cannot be told from the hashed key); a revocation writes
 *                                        `rb` too while such sessions may live (<prefix>legacy-until)
 *   <prefix>{dp.<jkt[0..12]>}:jti:<h(jkt,jti)>  single-use mark of a DPoP proof (RFC 9449 §11.1),
 *                                        TTL = its iat window; the hash tag comes from the key thumbprint
 *   <prefix><stream>:{<partition tag>}…  ingest streams (src/ingest/partitions.ts)
 *   <prefix>schema                       keyspace schema version (migrations/)
 *   <prefix>mark-ttl                     the revocation mark TTL (ms) every server on this keyspace needs (its
 *                                        longest session plus skew): raised by each server at start, never lowered
 *   <prefix>legacy-until                 present (TTL: until the last one expires) while sessions minted before
 *                                        devices were keyed by issuer may live
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
export const KEYSPACE_SCHEMA_VERSION = 5;

/** REDIS_KEY_PREFIX when none is set: the server's and the guard library's default. */
export const DEFAULT_KEY_PREFIX = 'ag:';
// crypto.hash: one-shot, no Hash object (about 2.5x cheaper per call than createHash).
export const digest = (value: string): string => hash('sha256', value, 'base64url');

/** The stored form of a secret or id: the first HASH_CHARS base64url characters (132 bits) of sha256. */
export const shortDigest = (value: string): string => digest(value).slice(0, HASH_CHARS);

/** 72 bits of sha256(subject): spreads devices over slots; never used for authorization decisions. */
export const deviceTag = (subject: string): string => digest(subject).slice(0, 12);

/** Characters of the issuer key: 48 bits of sha256(iss), apart for any set of issuers one server trusts. */
export const ISSUER_KEY_CHARS = 8;
const issuerKeys = new Map<string, string>();
/**
 * The issuer's part of a device's mark names (and of its access tokens). Remembered: only issuers
 * the server trusts (or an operator names, checked against them) reach it, so the map stays small.
 */
export function issuerKey(iss: string): string {
  let key = issuerKeys.get(iss);
  if (key === undefined) {
    key = digest(iss).slice(0, ISSUER_KEY_CHARS);
    issuerKeys.set(iss, key);
  }
  return key;
}

export function redisKeys(prefix: string) {
  return {
    accessToken: (tag: string, tokenHash: string) => `${prefix}{${tag}}:at:${tokenHash}`,
    assertionUse: (tag: string, iss: string, jti: string) => `${prefix}{${tag}}:jti:${shortDigest(`${iss}\n${jti}`)}`,
    /** The device's revocation mark; without an issuer key, the id's mark of schema 4 and earlier. */
    deviceRevokedBefore: (tag: string, issuer?: string) => (issuer === undefined ? `${prefix}{${tag}}:rb` : `${prefix}{${tag}}:rb:${issuer}`),
    deviceNotBefore: (tag: string, issuer?: string) => (issuer === undefined ? `${prefix}{${tag}}:nb` : `${prefix}{${tag}}:nb:${issuer}`),
    dpopProof: (jkt: string, jti: string) => `${prefix}{dp.${jkt.slice(0, 12)}}:jti:${shortDigest(`${jkt}\n${jti}`)}`,
    schema: () => `${prefix}schema`,
    markTtl: () => `${prefix}mark-ttl`,
    legacyUntil: () => `${prefix}legacy-until`,
    issuers: () => `${prefix}issuers`,
    resources: () => `${prefix}resources`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;
