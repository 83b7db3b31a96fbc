import type { Clock } from '../clock.js';
import type { ProofOfPossession } from '../dpop/policy.js';
import { httpJwksLoader, JwksCache, type HttpJwksOptions, type JwksLoader, type JwksPolicy } from './jwks.js';

/** A trusted issuer: identifier compared exactly with `iss`, and the only key set its tokens may use. */
export interface TrustedIssuer {
  issuer: string;
  keys: JwksCache;
  algorithms: string[];
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

export function remoteIssuer(issuer: string, settings: IssuerSettings, clock: Clock): TrustedIssuer {
  return {
    issuer,
    algorithms: settings.algorithms,
    keys: new JwksCache(httpJwksLoader(jwksUrlOf(issuer), settings.jwks), settings.jwks, clock),
  };
}

export function localIssuer(issuer: string, load: JwksLoader, settings: IssuerSettings, clock: Clock): TrustedIssuer {
  return { issuer, algorithms: settings.algorithms, keys: new JwksCache(load, settings.jwks, clock) };
}
