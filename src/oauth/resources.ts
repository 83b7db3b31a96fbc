import { isLoopbackHost } from '../loopback.js';
import { InvalidTarget } from './errors.js';

/**
 * The protected resources sessions are issued for (RFC 8707, RFC 9700 §2.3: an access token should
 * be usable only where it is meant to be). A session names its resources by identifier; a resource
 * server refuses a session that does not name it.
 */
export interface ResourceServer {
  /** The resource identifier: an absolute URI without a fragment (RFC 8707 §2). */
  resource: string;
  /** A logical name a token-exchange request may give as `audience` (RFC 8693 §2.1). */
  name: string | undefined;
  /** The scopes this resource understands: the most a session valid here may carry (RFC 6749 §3.3). */
  scopes: readonly string[];
  /** Cap on the life of a session valid here, in seconds; undefined: ACCESS_TOKEN_TTL_SECONDS alone. */
  maxTokenLifetimeSeconds: number | undefined;
}

/**
 * Why `value` cannot be a configured resource identifier, else undefined. A token presented over
 * plain http could be read on the way, so http only for loopback hosts; credentials would leak into
 * every document that names the resource; RFC 8707 §2 forbids the fragment.
 */
export function resourceIdentifierProblem(value: string): string | undefined {
  if (!URL.canParse(value)) return `"${value}" is not an absolute URI`;
  const url = new URL(value);
  if (url.username || url.password) return 'must not carry credentials';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    return `"${value}" must use https (plain http only for loopback hosts)`;
  }
  if (value.includes('#')) return `"${value}" must not carry a fragment (RFC 8707 §2)`;
  return undefined;
}

/** The `resource` and `audience` parameters of one token request, as sent (repeatable). */
export interface TargetRequest {
  resources: readonly string[];
  audiences: readonly string[];
}

export const NO_TARGETS: TargetRequest = Object.freeze({ resources: [], audiences: [] });

/**
 * Every resource sessions may be issued for: the built-in one (this server's own routes, PUBLIC_URL),
 * the configured ones, and the default set a request without `resource` / `audience` gets.
 * Construction checks what the configuration must guarantee (unique identifiers and names, known
 * defaults) and throws an Error naming the problem.
 */
export class ResourceCatalog {
  readonly builtin: ResourceServer;
  readonly defaults: readonly ResourceServer[];
  private readonly byIdentifier = new Map<string, ResourceServer>();
  private readonly byName = new Map<string, ResourceServer>();

  constructor(builtin: ResourceServer, configured: readonly ResourceServer[], defaultIdentifiers: readonly string[]) {
    this.builtin = builtin;
    for (const r of [builtin, ...configured]) {
      if (this.byIdentifier.has(r.resource)) throw new Error(`resource "${r.resource}" is listed twice (PUBLIC_URL is always the built-in resource)`);
      this.byIdentifier.set(r.resource, r);
      if (r.name === undefined) continue;
      if (this.byName.has(r.name)) throw new Error(`resource name "${r.name}" is used twice`);
      this.byName.set(r.name, r);
    }
    this.defaults = defaultIdentifiers.map((id) => {
      const r = this.byIdentifier.get(id);
      if (!r) throw new Error(`default resource "${id}" is neither PUBLIC_URL nor a configured resource server`);
      return r;
    });
    if (this.defaults.length === 0) throw new Error('the default resources must name at least one resource');
  }

  list(): ResourceServer[] {
    return [...this.byIdentifier.values()];
  }

  find(identifier: string): ResourceServer | undefined {
    return this.byIdentifier.get(identifier);
  }

  /**
   * The resources a session is for. Without parameters, the default set. `resource` values are
   * identifiers (RFC 8707 §2); an `audience` value (RFC 8693 §2.1) is a configured resource's name
   * or its identifier. Anything malformed or unknown is invalid_target: a session is never widened
   * to resources the client did not name, nor silently narrowed to drop one it did.
   */
  targetsOf(request: TargetRequest): ResourceServer[] {
    if (request.resources.length === 0 && request.audiences.length === 0) return [...this.defaults];
    const targets = new Set<ResourceServer>();
    for (const value of request.resources) {
      // RFC 8707 §2: an absolute URI without a fragment.
      if (!URL.canParse(value) || value.includes('#')) throw new InvalidTarget('resource must be an absolute URI without a fragment');
      const r = this.byIdentifier.get(value);
      if (!r) throw new InvalidTarget('resource is not one this server issues sessions for');
      targets.add(r);
    }
    for (const value of request.audiences) {
      const r = this.byName.get(value) ?? this.byIdentifier.get(value);
      if (!r) throw new InvalidTarget('audience is not one this server issues sessions for');
      targets.add(r);
    }
    return [...targets];
  }
}

/** The longest a session for all of `targets` may live: the smallest cap among them. */
export function lifetimeCapSeconds(targets: readonly ResourceServer[], ttlSeconds: number): number {
  let cap = ttlSeconds;
  for (const r of targets) if (r.maxTokenLifetimeSeconds !== undefined && r.maxTokenLifetimeSeconds < cap) cap = r.maxTokenLifetimeSeconds;
  return cap;
}
