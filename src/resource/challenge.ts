export interface ChallengeError {
  code: string;
  description: string;
}

// error_description is a quoted-string of %x20-21 / %x23-5B / %x5D-7E (RFC 6750 §3).
const errorParams = (error: ChallengeError): string =>
  `, error="${error.code}", error_description="${error.description.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '')}"`;

/** RFC 6750 §3 challenges: `Bearer realm="x"` alone when no credentials came, else with error. */
export function bearerChallenge(realm: string, error?: ChallengeError): string {
  return `Bearer realm="${realm}"${error ? errorParams(error) : ''}`;
}

/** RFC 9449 §7.1: the DPoP challenge takes the RFC 6750 parameters plus `algs`, the accepted proof algorithms. */
export function dpopChallenge(realm: string, algorithms: readonly string[], error?: ChallengeError): string {
  return `DPoP realm="${realm}"${error ? errorParams(error) : ''}, algs="${algorithms.join(' ')}"`;
}
