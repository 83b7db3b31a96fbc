import { importJWK, type JWK, type JWSHeaderParameters } from 'jose';
import type { Clock } from '../clock.js';

/** The issuer's keys cannot be had right now (cold cache and endpoint down): a 503, not the device's fault. */
export class IssuerUnavailableError extends Error {
  override name = 'IssuerUnavailableError';
}
/** No key of the issuer fits the token's kid and alg. */
export class UnknownKeyError extends Error {
  override name = 'UnknownKeyError';
}

export interface JwksPolicy {
  /** Least gap between refetches caused by an unknown kid (outbound DoS guard). */
  cooldownMs: number;
  /** Age after which cached keys are refreshed in the background (still served meanwhile). */
  maxAgeMs: number;
}

export type JwksLoader = () => Promise<unknown>;

/** Hooks for metrics: each load attempt's outcome, and each key served from the cache. */
export interface JwksObserver {
  fetched(outcome: 'ok' | 'error'): void;
  hit(): void;
}

type VerifyKey = Awaited<ReturnType<typeof importJWK>>;

/** Which key types may verify which JWS algorithms (RFC 8725 §3.1: never a key of the wrong family). */
export function keyFitsAlgorithm(jwk: JWK, alg: string): boolean {
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.key_ops !== undefined && !jwk.key_ops.includes('verify')) return false;
  if ('d' in jwk || 'k' in jwk) return false; // private or symmetric material is never a verification key
  if (alg.startsWith('RS') || alg.startsWith('PS')) return jwk.kty === 'RSA';
  if (alg === 'ES256') return jwk.kty === 'EC' && jwk.crv === 'P-256';
  if (alg === 'ES384') return jwk.kty === 'EC' && jwk.crv === 'P-384';
  if (alg === 'ES512') return jwk.kty === 'EC' && jwk.crv === 'P-521';
  if (alg === 'EdDSA' || alg === 'Ed25519') return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  return false;
}

/**
 * The keys of a JWKS document that are well-formed enough to select among (RFC 7517 §4): kty a
 * string; kid, alg, use and crv strings when present; key_ops an array of strings. A malformed key is
 * dropped alone: one bad entry in an issuer's set must not break the selection of its other keys.
 */
function parseJwks(doc: unknown): JWK[] {
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { keys?: unknown }).keys)) {
    throw new IssuerUnavailableError('JWKS document has no "keys" array');
  }
  return ((doc as { keys: unknown[] }).keys).filter(isSelectableJwk);
}

const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';

function isSelectableJwk(k: unknown): k is JWK {
  if (typeof k !== 'object' || k === null || Array.isArray(k)) return false;
  const jwk = k as Record<string, unknown>;
  if (typeof jwk.kty !== 'string') return false;
  if (!optionalString(jwk.kid) || !optionalString(jwk.alg) || !optionalString(jwk.use) || !optionalString(jwk.crv)) return false;
  return jwk.key_ops === undefined || (Array.isArray(jwk.key_ops) && jwk.key_ops.every((op) => typeof op === 'string'));
}

/**
 * One issuer's key set: cached, refreshed in the background when old, refetched on an unknown kid
 * at most once per cooldown, and served from cache when the endpoint fails.
 */
export class JwksCache {
  private keys: JWK[] = [];
  private fetchedAt: number | undefined;
  private lastAttempt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  private readonly imported = new Map<JWK, Map<string, Promise<VerifyKey>>>();

  constructor(
    private readonly load: JwksLoader,
    private readonly policy: JwksPolicy,
    private readonly clock: Clock,
    private readonly observer?: JwksObserver,
  ) {}

  /** Number of JWKS loads attempted, for tests and metrics. */
  loads = 0;

  private refresh(): Promise<void> {
    if (!this.inflight) {
      this.lastAttempt = this.clock.now();
      this.loads += 1;
      this.inflight = this.load()
        .then((doc) => {
          this.keys = parseJwks(doc);
          this.fetchedAt = this.clock.now();
          this.imported.clear();
          this.selected.clear();
          this.observer?.fetched('ok');
        })
        .catch((err: unknown) => {
          this.observer?.fetched('error');
          throw err;
        })
        .finally(() => {
          this.inflight = undefined;
        });
    }
    return this.inflight;
  }

  /** Successful selections by kid and alg (only keys that exist: attacker-chosen kids add nothing). */
  private readonly selected = new Map<string, JWK>();

  private select(header: JWSHeaderParameters): JWK | undefined {
    const alg = header.alg ?? '';
    // RFC 7515 §4.1.4: kid is a string. Anything else names no key (and must never reach the
    // string-keyed cache below, where ["k1"] would read as "k1").
    if (header.kid !== undefined && typeof header.kid !== 'string') return undefined;
    const cacheKey = `${header.kid === undefined ? '-' : `+${header.kid}`}\n${alg}`;
    const hit = this.selected.get(cacheKey);
    if (hit) return hit;
    const found = this.selectUncached(header, alg);
    if (found) this.selected.set(cacheKey, found);
    return found;
  }

  private selectUncached(header: JWSHeaderParameters, alg: string): JWK | undefined {
    const fitting = this.keys.filter((k) => keyFitsAlgorithm(k, alg) && (header.kid === undefined || k.kid === header.kid));
    // Without a kid, only an unambiguous key set may answer.
    if (header.kid === undefined && fitting.length !== 1) return undefined;
    return fitting[0];
  }

  async getKey(header: JWSHeaderParameters): Promise<VerifyKey> {
    const now = this.clock.now();
    let waited = false;
    if (this.fetchedAt === undefined) {
      waited = true;
      // Cold: one attempt at a time, and not more than once a second while the endpoint fails.
      if (now - this.lastAttempt < Math.min(1000, this.policy.cooldownMs) && !this.inflight) {
        throw new IssuerUnavailableError('issuer keys not loaded yet (recent fetch failed)');
      }
      await this.refresh().catch((err: Error) => {
        throw err instanceof IssuerUnavailableError ? err : new IssuerUnavailableError(err.message);
      });
    } else if (now - this.fetchedAt >= this.policy.maxAgeMs && now - this.lastAttempt >= this.policy.cooldownMs) {
      this.refresh().catch(() => undefined); // stale-while-revalidate; a failure keeps the cached keys
    }

    let jwk = this.select(header);
    let refetchFailed = false;
    if (!jwk && now - this.lastAttempt >= this.policy.cooldownMs) {
      // Unknown kid: the issuer may have rotated. On failure keep serving the cached keys.
      waited = true;
      await this.refresh().catch(() => {
        refetchFailed = true;
      });
      jwk = this.select(header);
    }
    // A kid we could not look up because the issuer is down may be a fresh rotation: retryable (503).
    if (!jwk && refetchFailed) throw new IssuerUnavailableError(`kid ${JSON.stringify(header.kid ?? null)} is unknown and the issuer's JWKS cannot be fetched`);
    if (!jwk) throw new UnknownKeyError(`no key of the issuer fits kid ${JSON.stringify(header.kid ?? null)} and alg ${header.alg}`);
    if (!waited) this.observer?.hit();
    // Keyed by the selected JWK object itself plus alg: no per-lookup string of the modulus. A
    // refresh replaces the key objects and clears the map, so a rotated key is imported afresh.
    let byAlg = this.imported.get(jwk);
    if (!byAlg) {
      byAlg = new Map();
      this.imported.set(jwk, byAlg);
    }
    const alg = header.alg!;
    let key = byAlg.get(alg);
    if (!key) {
      const imported = importJWK(jwk, alg);
      key = imported;
      byAlg.set(alg, imported);
      imported.catch(() => byAlg.delete(alg));
    }
    return key;
  }

  /** Loads now (start-up warm-up); failures are left for the first request to report. */
  async warm(): Promise<void> {
    await this.refresh().catch(() => undefined);
  }
}

export interface HttpJwksOptions {
  timeoutMs: number;
  maxBytes: number;
}

/**
 * Fetches a JWKS URL that came from configuration only: bounded time, bounded size, no redirects.
 */
export function httpJwksLoader(url: string, options: HttpJwksOptions): JwksLoader {
  return async () => {
    let response: Response;
    try {
      response = await fetch(url, {
        redirect: 'error',
        signal: AbortSignal.timeout(options.timeoutMs),
        headers: { accept: 'application/jwk-set+json, application/json' },
      });
    } catch (err) {
      throw new IssuerUnavailableError(`JWKS fetch failed: ${(err as Error).message}`);
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw new IssuerUnavailableError(`JWKS endpoint answered ${response.status}`);
    }
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > options.maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw new IssuerUnavailableError(`JWKS larger than ${options.maxBytes} bytes`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      const reader = response.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > options.maxBytes) {
          await reader.cancel().catch(() => undefined);
          throw new IssuerUnavailableError(`JWKS larger than ${options.maxBytes} bytes`);
        }
        chunks.push(value);
      }
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    } catch (err) {
      throw err instanceof IssuerUnavailableError ? err : new IssuerUnavailableError(`JWKS unreadable: ${(err as Error).message}`);
    }
  };
}
