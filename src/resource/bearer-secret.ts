import type { Context, Next } from 'koa';
import { secretDigest, secretMatches } from '../oauth/client-auth.js';
import { InvalidToken } from '../oauth/errors.js';
import { challengeFor, type Challenge } from './challenge.js';
import { readCredentials } from './credentials.js';

/**
 * Middleware for an endpoint guarded by one configured secret sent as `Authorization: Bearer
 * <secret>` (the admin API's ADMIN_API_KEY, /metrics' METRICS_TOKEN): read by the one credentials
 * reader, compared in constant time over fixed-length digests, RFC 6750 §3 challenges on failure.
 * Not async: a check, then next()'s promise is handed on.
 */
export function requireBearerSecret(secret: string, realm: string) {
  const expected = secretDigest(secret);
  const bearerOnly = challengeFor(realm, [], () => ({ bearer: true, dpop: false }));
  // Whatever scheme came, the answer names the one this endpoint takes.
  const challenge: Challenge = (err) => bearerOnly(err, 'any');
  return function requireBearerSecretMiddleware(ctx: Context, next: Next): Promise<void> {
    const { scheme, token } = readCredentials(ctx.req, challenge);
    if (scheme !== 'Bearer' || !secretMatches(token, expected)) {
      throw challenge(new InvalidToken('credentials are invalid', { debug: 'wrong or malformed secret' }), 'Bearer');
    }
    return next();
  };
}
