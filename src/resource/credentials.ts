import type { IncomingMessage } from 'node:http';
import { InvalidRequest, MissingCredentials } from '../oauth/errors.js';
import type { AuthScheme, Challenge } from './challenge.js';

export interface Credentials {
  scheme: AuthScheme;
  token: string;
}

const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
const CREDENTIALS = /^([A-Za-z]+) +(\S+)$/;
const SCHEME_NAME = /^[A-Za-z]+/;
const MAX_AUTHORIZATION_LENGTH = 16 * 1024;
// A Map, not an object literal: the scheme name is the client's, and "constructor" would find
// Object.prototype's function (truthy, and read as Bearer by every check for 'DPoP').
const SCHEMES: ReadonlyMap<string, AuthScheme> = new Map([
  ['bearer', 'Bearer'],
  ['dpop', 'DPoP'],
]);

/** Authorization headers in the request as sent (req.headersDistinct would copy every header). */
function authorizationHeaderCount(raw: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 13 && name.toLowerCase() === 'authorization') count += 1;
  }
  return count;
}

/**
 * The one reader of `Authorization: Bearer <token>` (RFC 6750 §2.1) and `Authorization: DPoP
 * <token>` (RFC 9449 §7.1): for the resources, the admin API, /metrics and the guard library.
 * Refusals carry the endpoint's challenge: none at all is a bare 401 (RFC 6750 §3.1), another
 * scheme too; two headers, a malformed header or token are invalid_request.
 */
export function readCredentials(req: IncomingMessage, challenge: Challenge): Credentials {
  const header = req.headers.authorization;
  if (header === undefined || header === '') throw challenge(new MissingCredentials('authentication required'), 'any');
  // Node keeps only the first of repeated Authorization headers; two credentials are ambiguous
  // (RFC 6750 §3.1 invalid_request), so refuse instead of guessing.
  if (authorizationHeaderCount(req.rawHeaders) > 1) throw challenge(new InvalidRequest('more than one Authorization header'), 'any');
  const match = CREDENTIALS.exec(header);
  const scheme = SCHEMES.get((match ? match[1]! : (SCHEME_NAME.exec(header)?.[0] ?? '')).toLowerCase());
  if (!match || header.length > MAX_AUTHORIZATION_LENGTH) throw challenge(new InvalidRequest('Authorization header is malformed'), scheme ?? 'any');
  if (!scheme) throw challenge(new MissingCredentials('Bearer or DPoP authentication required'), 'any');
  if (!TOKEN68.test(match[2]!)) throw challenge(new InvalidRequest('token is malformed'), scheme);
  return { scheme, token: match[2]! };
}
