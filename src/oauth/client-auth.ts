import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { CLIENT_AUTH_BASIC, CLIENT_AUTH_POST } from './constants.js';
import { limitFailures, type Charge, type FailureLimits } from '../ops/failure-limits.js';
import { InvalidClient, InvalidRequest } from './errors.js';
import { formDecode, type FormParams } from './form.js';

/** A resource server allowed to call introspection and revocation (RFC 7662 §2.1, RFC 7009 §2.1). */
export interface ClientCredential {
  id: string;
  secret: string;
  /** The resource this client is (RFC 7662 §2.2): introspection reports only sessions meant for it as active. */
  resource?: string;
}

/** Shortest client secret (and admin key) accepted: guessing 16 random characters online is hopeless. */
export const MIN_SECRET_LENGTH = 16;

export type ClientAuthMethod = typeof CLIENT_AUTH_BASIC | typeof CLIENT_AUTH_POST;

/** The authenticated caller, in ctx.state.client. */
export interface AuthenticatedClient {
  id: string;
  method: ClientAuthMethod;
  /** The resource this client is, when the configuration binds it to one (RFC 7662 §2.2). */
  resource?: string;
}

interface PresentedCredentials {
  method: ClientAuthMethod;
  id: string;
  secret: string;
}

/** The stored form of a secret to compare against (client secrets, the admin key, the metrics token). */
export const secretDigest = (secret: string): Buffer => hash('sha256', secret, 'buffer');

/**
 * Constant-time secret check: both sides are sha256 digests (32 bytes), so timingSafeEqual never
 * sees inputs of different lengths and neither the content nor the length of a secret leaks.
 */
export function secretMatches(presented: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(secretDigest(presented), expectedDigest);
}

/** Configured clients, held as secret digests only (the clear secrets stay in the configuration). */
export class ClientRegistry {
  private readonly digests = new Map<string, Buffer>();
  private readonly resources = new Map<string, string>();
  // An unknown id is compared against this, so it costs the same as a wrong secret.
  private readonly decoy = secretDigest(randomBytes(32).toString('base64url'));

  constructor(clients: readonly ClientCredential[]) {
    for (const c of clients) {
      this.digests.set(c.id, secretDigest(c.secret));
      if (c.resource !== undefined) this.resources.set(c.id, c.resource);
    }
  }

  /** The resource a client is bound to, if any. */
  resourceOf(id: string): string | undefined {
    return this.resources.get(id);
  }

  get size(): number {
    return this.digests.size;
  }

  verify(id: string, secret: string): boolean {
    const expected = this.digests.get(id);
    const matches = secretMatches(secret, expected ?? this.decoy);
    return matches && expected !== undefined;
  }
}

const BASIC = /^Basic +([A-Za-z0-9+/]+={0,2})$/i;

/**
 * RFC 6749 §2.3.1 + RFC 7617: `Basic base64(urlencode(id) ":" urlencode(secret))`. Both halves are
 * form-decoded, so `my%2Dclient` is `my-client`.
 */
export function parseBasicCredentials(header: string, challenge: string): { id: string; secret: string } {
  const malformed = (why: string) => new InvalidClient('client authentication failed', { debug: why, headers: { 'WWW-Authenticate': challenge } });
  const match = BASIC.exec(header);
  if (!match || match[1]!.length % 4 !== 0) throw malformed('Authorization header is not HTTP Basic');
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw malformed('Basic credentials carry no ":"');
  const id = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  if (id === null || secret === null || id === '') throw malformed('Basic credentials are not form-urlencoded');
  return { id, secret };
}

function presentedCredentials(ctx: Context, form: FormParams, challenge: string): PresentedCredentials {
  const header = ctx.get('authorization');
  const postedSecret = form.get('client_secret');
  const postedId = form.get('client_id');
  if (header !== '') {
    // RFC 6749 §2.3: a client must not use more than one authentication method per request.
    if (postedSecret !== undefined) throw new InvalidRequest('use one client authentication method, not both Basic and client_secret');
    const basic = parseBasicCredentials(header, challenge);
    if (postedId !== undefined && postedId !== basic.id) throw new InvalidRequest('client_id does not match the Basic credentials');
    return { method: CLIENT_AUTH_BASIC, ...basic };
  }
  if (postedSecret !== undefined && postedId !== undefined) return { method: CLIENT_AUTH_POST, id: postedId, secret: postedSecret };
  throw new InvalidClient('client authentication required', { debug: 'no client credentials', headers: { 'WWW-Authenticate': challenge } });
}

/**
 * Middleware (after parseForm): authenticates the calling resource server with client_secret_basic
 * or client_secret_post. Every failure is invalid_client, 401, with a Basic challenge (RFC 6749
 * §5.2). Secrets never reach a log line; the debug detail names the method and (clipped) id only.
 */
export function authenticateClient(clients: ClientRegistry, realm: string) {
  const challenge = `Basic realm="${realm}"`;
  return async function authenticateClientMiddleware(ctx: Context, next: Next): Promise<void> {
    const presented = presentedCredentials(ctx, ctx.state.form!, challenge);
    if (!clients.verify(presented.id, presented.secret)) {
      throw new InvalidClient('client authentication failed', {
        debug: `${presented.method}: unknown client or wrong secret for client_id ${JSON.stringify(presented.id.slice(0, 64))}`,
        headers: { 'WWW-Authenticate': challenge },
      });
    }
    const client: AuthenticatedClient = { id: presented.id, method: presented.method };
    const resource = clients.resourceOf(presented.id);
    if (resource !== undefined) client.resource = resource;
    ctx.state.client = client;
    await next();
  };
}

const CLIENT_AUTH_REFUSAL: Charge = { refusal: { of: 'request' }, device: undefined };

/**
 * Middleware for the endpoints resource servers call (introspection, revocation): a client address
 * over its failure limit is refused up front (429), and every failed client authentication counts
 * against it, so client secrets cannot be guessed at request rate. Nothing in a wrong secret vouches
 * for anybody, so only the address pays; other refusals (a missing `token`, a bad form) are not
 * guesses and count for nothing.
 */
export const limitFailedClientAuthentication = (limits: Pick<FailureLimits, 'checkClient' | 'charge'>) =>
  limitFailures(limits, (err) => (err instanceof InvalidClient ? CLIENT_AUTH_REFUSAL : undefined));
