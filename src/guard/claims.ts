/** What a protected route learns about the caller, in ctx.state.device. Times in seconds. */
export interface DeviceClaims {
  /** The device: the asset token's `did` (or `sub` for tokens without one). */
  sub: string;
  did?: string;
  aid?: string;
  /** Space-separated granted scopes (RFC 6749 §3.3). */
  scope?: string;
  /** The resource identifiers the session is valid at (RFC 8707); the guard's own is one of them. */
  aud: string[];
  exp: number;
  iat: number;
  /** The issuer (Salesforce site) of the asset token the session was exchanged from. */
  assetTokenIssuer: string;
  /** Confirmation of a key-bound token (RFC 7800 §3.1). */
  cnf?: { jkt: string };
}

/** Turns a bearer token into the claims of a live session, or null when the token is not one. */
export interface TokenResolver {
  resolve(token: string): Promise<DeviceClaims | null>;
}

/** The guard could not learn the token's state (Redis or the introspection endpoint is away): 503. */
export class GuardUnavailableError extends Error {
  override name = 'GuardUnavailableError';
}
