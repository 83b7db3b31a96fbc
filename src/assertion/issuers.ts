import type { Clock } from '../clock.js';
import type { ProofOfPossession } from '../dpop/policy.js';
import { isLoopbackHost } from '../loopback.js';
import type { ClaimProfile } from './claims-policy.js';
import { httpJwksLoader, JwksCache, type HttpJwksOptions, type JwksLoader, type JwksObserver, type JwksPolicy } from './jwks.js';

/** Asymmetric JWS algorithms an asset token may be signed with (RFC 8725 §3.1: never `none` or HMAC). */
export const ASSERTION_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** One trusted issuer as configured (TRUSTED_ISSUERS and the file's `issuers`), defaults filled in. */
export interface IssuerConfig {
  issuer: string;
  jwksUrl: string;
  algorithms: string[];
  audiences: string[];
  /** salesforce-asset-token: subject is `did` (else `sub`); generic-jwt: `sub` is required. */
  profile: ClaimProfile;
  /** Overrides the global PROOF_OF_POSSESSION for this issuer (RFC 9449); undefined: the global policy. */
  proofOfPossession: ProofOfPossession | undefined;
  /** When set, the token's `aid` must be one of these. */
  allowedAssetIds: string[] | undefined;
  /** Scopes this issuer's devices may be granted (oauth/scope-policy.ts); undefined: the resources' lists alone decide. */
  scopes: string[] | undefined;
  /** Per asset id: a listed asset gets exactly these scopes instead of `scopes`. */
  assetScopes: Record<string, string[]> | undefined;
}

/**
 * Why `value` cannot identify a trusted issuer (or its key URL), else undefined. Keys fetched over
 * plain http could be swapped on the way (RFC 8725 §3.10), so http is for loopback only. The value is
 * not echoed when it carries credentials.
 */
export function issuerUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `"${value}" is not a URL`;
  }
  if (url.username || url.password) return 'must not carry credentials';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    return `"${value}" must use https (plain http only for loopback hosts)`;
  }
  if (url.search || url.hash) return `"${value}" must not carry a query or fragment`;
  return undefined;
}

/** A trusted issuer: identifier compared exactly with `iss`, and the only key set its tokens may use. */
export interface TrustedIssuer {
  issuer: string;
  keys: JwksCache;
  algorithms: string[];
  /** Audiences its tokens may name; absent: the server-wide audiences. */
  audiences?: string[];
  /** Absent: salesforce-asset-token. */
  profile?: ClaimProfile;
  /** When set, the token's `aid` must be in it. */
  allowedAssetIds?: ReadonlySet<string>;
  /** Overrides the global PROOF_OF_POSSESSION for this issuer's asset tokens (RFC 9449). */
  proofOfPossession?: ProofOfPossession;
}

/** RFC 8725 §3.10 / DOMAIN.md: key URLs come from configuration, never from the token. */
export class TrustedIssuers {
  private readonly byIssuer = new Map<string, TrustedIssuer>();

  add(issuer: TrustedIssuer): void {
    this.byIssuer.set(issuer.issuer, issuer);
  }

  /** Exact, case-sensitive match (RFC 7523 §3 item 1). */
  get(iss: string): TrustedIssuer | undefined {
    return this.byIssuer.get(iss);
  }

  list(): TrustedIssuer[] {
    return [...this.byIssuer.values()];
  }
}

export interface IssuerSettings {
  algorithms: string[];
  jwks: JwksPolicy & HttpJwksOptions;
}

/** Salesforce publishes an issuer's keys at `{issuer}/id/keys`. */
export const jwksUrlOf = (issuer: string): string => `${issuer}/id/keys`;

/** A configured issuer (config file or TRUSTED_ISSUERS) with its own keys, audiences and profile. */
export function configuredIssuer(
  cfg: IssuerConfig,
  jwks: JwksPolicy & HttpJwksOptions,
  clock: Clock,
  observer?: JwksObserver,
): TrustedIssuer {
  const issuer: TrustedIssuer = {
    issuer: cfg.issuer,
    algorithms: cfg.algorithms,
    audiences: cfg.audiences,
    profile: cfg.profile,
    proofOfPossession: cfg.proofOfPossession,
    keys: new JwksCache(httpJwksLoader(cfg.jwksUrl, jwks), jwks, clock, observer),
  };
  if (cfg.allowedAssetIds) issuer.allowedAssetIds = new Set(cfg.allowedAssetIds);
  return issuer;
}

export function localIssuer(issuer: string, load: JwksLoader, settings: IssuerSettings, clock: Clock, observer?: JwksObserver): TrustedIssuer {
  return { issuer, algorithms: settings.algorithms, keys: new JwksCache(load, settings.jwks, clock, observer) };
}
