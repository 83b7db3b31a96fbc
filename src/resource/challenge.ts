import type { OAuthError } from '../oauth/errors.js';

/** RFC 6750 §2.1 `Bearer` or RFC 9449 §7.1 `DPoP`: the schemes of credentials and of challenges. */
export type AuthScheme = 'Bearer' | 'DPoP';

export interface ChallengeError {
  code: string;
  description: string;
}

// error_description is a quoted-string of %x20-21 / %x23-5B / %x5D-7E (RFC 6750 §3).
const errorParams = (error: ChallengeError): string =>
  `, error="${error.code}", error_description="${error.description.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '')}"`;

/** RFC 9728 §5.1: where a client finds the resource's metadata (its authorization servers, its scopes). */
const metadataParam = (resourceMetadata: string | undefined): string => (resourceMetadata === undefined ? '' : `, resource_metadata="${resourceMetadata}"`);

/** RFC 6750 §3 challenges: `Bearer realm="x"` alone when no credentials came, else with error. */
export function bearerChallenge(realm: string, error?: ChallengeError, resourceMetadata?: string): string {
  return `Bearer realm="${realm}"${error ? errorParams(error) : ''}${metadataParam(resourceMetadata)}`;
}

/** RFC 9449 §7.1: the DPoP challenge takes the RFC 6750 parameters plus `algs`, the accepted proof algorithms. */
export function dpopChallenge(realm: string, algorithms: readonly string[], error?: ChallengeError, resourceMetadata?: string): string {
  return `DPoP realm="${realm}"${error ? errorParams(error) : ''}, algs="${algorithms.join(' ')}"${metadataParam(resourceMetadata)}`;
}

/** Which schemes a protected endpoint takes: what a refusal without a usable scheme advertises. */
export interface AcceptedSchemes {
  bearer: boolean;
  dpop: boolean;
}

/**
 * Sets the challenge of a refusal: in the scheme the client used (or should use), or, for `any`,
 * one per scheme the endpoint takes (RFC 9110 §11.6.1: several challenges in one header). The error
 * code rides along whenever credentials came (RFC 6750 §3); MissingCredentials has none.
 */
export type Challenge = <E extends OAuthError>(err: E, scheme: AuthScheme | 'any') => E;

/**
 * Builds an endpoint's challenge once. `accepted` is asked only on the `any` path (a request
 * without usable credentials), so a per-issuer policy is read there and costs nothing per request.
 * `resourceMetadata`: the RFC 9728 metadata URL of a protected resource, named in every challenge.
 */
export function challengeFor(realm: string, dpopAlgorithms: readonly string[], accepted: () => AcceptedSchemes, resourceMetadata?: string): Challenge {
  return (err, scheme) => {
    const error = err.code ? { code: err.code, description: err.description } : undefined;
    let challenge: string;
    if (scheme === 'Bearer') challenge = bearerChallenge(realm, error, resourceMetadata);
    else if (scheme === 'DPoP') challenge = dpopChallenge(realm, dpopAlgorithms, error, resourceMetadata);
    else {
      const schemes = accepted();
      const list: string[] = [];
      if (schemes.bearer) list.push(bearerChallenge(realm, error, resourceMetadata));
      if (schemes.dpop) list.push(dpopChallenge(realm, dpopAlgorithms, error, resourceMetadata));
      challenge = list.join(', ');
    }
    err.headers['WWW-Authenticate'] = challenge;
    return err;
  };
}
