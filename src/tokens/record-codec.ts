import { digest } from './keys.js';
import type { AccessTokenRecord } from './store.js';

/**
 * The stored access-token record, sized for Redis memory (the target: at most 250 bytes per live
 * token, key and TTL included). Redis keeps a value of more than 44 bytes as a 16-byte object plus an sds
 * string (3-byte header + text + NUL) in a jemalloc size class (64, 80, 96, ...), so every byte that
 * pushes the text over 60 or 76 costs 16 more. Positional text, format 2:
 *
 *   <iat: 8 base36 ms> <life: base36 ms> "|" <iss> "|" <did> "|" <sub> "|" <aid> "|" <jti> "|" <scope> "|" <jkt>
 *
 * - iss: `~` + ISSUER_ID_CHARS base64url chars of sha256(iss) for a trusted issuer (resolved back
 *   through the configured issuers, or the `<prefix>issuers` registry in the guard library), else the
 *   URL itself;
 * - did: `!` + 22 base64url chars for a lowercase canonical UUID (Salesforce device ids are UUIDs);
 * - sub: empty when it equals did (the asset-token profile: subject = did);
 * - empty fields are absent; trailing empty fields are dropped;
 * - `%`, `|` and a leading `!` / `~` in a value are percent-escaped.
 *
 * Audience (migration 3): a session for the built-in resource alone (PUBLIC_URL, the default) is
 * stored exactly as above, at no cost; any other audience is written in front as
 *
 *   "@" <RESOURCE_ID_CHARS base64url chars of sha256(resource identifier)>... "|" <the text above>
 *
 * An older decoder reads "@..." as a broken time field and does not find the token: a restricted
 * session fails closed there instead of passing as unrestricted. Records without "@" (all written
 * before migration 3) are for the built-in resource only: those sessions were used at assetgate's own
 * routes, and reading them as valid anywhere else would widen them.
 * Format 1 (JSON, a leading `{`) is still decoded: records written before migration 2 stay readable.
 */
export const ISSUER_ID_CHARS = 4;
export const RESOURCE_ID_CHARS = 4;
const AUDIENCE_MARK = '@';
/** The registry field naming the built-in resource (never a short id: those are RESOURCE_ID_CHARS long). */
const BUILTIN_FIELD = 'builtin';
const ISO_BASE = 36;
const IAT_CHARS = 8; // base36 ms: 8 characters until the year 2059
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NEEDS_ESCAPE = /[%|]|^[!~]/;

/** Stable short id of an issuer identifier (24 bits of sha256: unique among a handful of configured issuers, checked). */
export const issuerIdOf = (iss: string): string => digest(iss).slice(0, ISSUER_ID_CHARS);

/** Stable short id of a resource identifier (24 bits of sha256; configured resources must not share one, checked at start). */
export const resourceIdOf = (resource: string): string => digest(resource).slice(0, RESOURCE_ID_CHARS);

const escapeField = (v: string): string =>
  NEEDS_ESCAPE.test(v) ? v.replace(/[%|]/g, (c) => (c === '%' ? '%25' : '%7C')).replace(/^[!~]/, (c) => (c === '!' ? '%21' : '%7E')) : v;
const unescapeField = (v: string): string =>
  v.includes('%') ? v.replace(/%(25|7C|21|7E)/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))) : v;

function packUuid(uuid: string): string {
  return `!${Buffer.from(uuid.replace(/-/g, ''), 'hex').toString('base64url')}`;
}
function unpackUuid(packed: string): string {
  const h = Buffer.from(packed.slice(1), 'base64url').toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Issuer ids <-> identifiers. `restrict`: only these issuers are trusted (the server, the guard library); else any (tools, tests). */
export class IssuerDirectory {
  private readonly byId = new Map<string, string>();
  private readonly ambiguous = new Set<string>();
  /** The reverse of byId: only issuers that hold their short id alone. */
  private readonly idByIssuer = new Map<string, string>();
  /** Every issuer learned, with or without a short id. */
  private readonly learned = new Set<string>();

  constructor(
    issuers: Iterable<string> = [],
    readonly restrict = false,
  ) {
    for (const iss of issuers) this.learn(iss);
  }

  /** Adds an issuer; two issuers with the same id both lose the short form (stored in full). */
  learn(iss: string): void {
    this.learned.add(iss);
    const id = issuerIdOf(iss);
    const known = this.byId.get(id);
    if (known === undefined && !this.ambiguous.has(id)) {
      this.byId.set(id, iss);
      this.idByIssuer.set(iss, id);
    } else if (known !== undefined && known !== iss) {
      this.byId.delete(id);
      this.idByIssuer.delete(known);
      this.ambiguous.add(id);
    }
  }

  /** The issuer's short id, if it has one; remembered from learn(), not hashed per record (a sha256 per token written). */
  shortIdOf(iss: string): string | undefined {
    return this.idByIssuer.get(iss);
  }

  issuerOf(id: string): string | undefined {
    return this.byId.get(id);
  }

  /** Is a record of this issuer still valid here? Under `restrict`, only a configured issuer's are. */
  accepts(iss: string): boolean {
    // Every learned issuer, also one stored in full because its short id is shared.
    return !this.restrict || this.learned.has(iss);
  }

  /**
   * The `<prefix>issuers` registry fields: each learned issuer under its short id, or under its own
   * identifier when its short id is shared (such records carry the identifier in full).
   */
  registry(): Array<[string, string]> {
    return [...this.learned].map((iss) => [this.idByIssuer.get(iss) ?? iss, iss]);
  }
}

/**
 * Resource ids <-> identifiers, and which resource is the built-in one (what a record without an
 * audience is for). Unknown ids resolve to nothing: a session for a resource this reader does not
 * know is valid nowhere here.
 */
export class ResourceDirectory {
  private readonly byId = new Map<string, string>();
  private builtinAudience: readonly string[] = Object.freeze([]);

  constructor(builtin?: string, resources: Iterable<string> = []) {
    if (builtin !== undefined) this.learn(builtin, true);
    for (const r of resources) this.learn(r);
  }

  /** Adds a resource; refuses one whose short id another resource holds (its sessions would be confused). */
  learn(resource: string, builtin = false): void {
    const id = resourceIdOf(resource);
    const known = this.byId.get(id);
    if (known !== undefined && known !== resource) throw new Error(`resources "${known}" and "${resource}" share the short id stored in sessions: change one identifier`);
    this.byId.set(id, resource);
    if (builtin) this.builtinAudience = Object.freeze([resource]);
  }

  get builtin(): string | undefined {
    return this.builtinAudience[0];
  }

  resourceOf(id: string): string | undefined {
    return this.byId.get(id);
  }

  /** The audience of a record without one (shared, frozen: no allocation per lookup). */
  get builtinOnly(): readonly string[] {
    return this.builtinAudience;
  }

  /** The `<prefix>resources` registry: short id -> identifier, and BUILTIN_FIELD -> the built-in resource. */
  registry(): Record<string, string> {
    const registry = Object.fromEntries(this.byId);
    if (this.builtin !== undefined) registry[BUILTIN_FIELD] = this.builtin;
    return registry;
  }

  /** A reader's directory from the registry a server wrote; entries that are not an id of their value are ignored. */
  static fromRegistry(registry: Record<string, string>): ResourceDirectory {
    const directory = new ResourceDirectory();
    for (const [id, resource] of Object.entries(registry)) {
      if (id === BUILTIN_FIELD || resourceIdOf(resource) !== id) continue;
      directory.learn(resource, resource === registry[BUILTIN_FIELD]);
    }
    return directory;
  }
}

/** The audience prefix, or '' for a session for the built-in resource alone. */
function audiencePrefix(aud: readonly string[], resources: ResourceDirectory): string {
  if (aud.length === 1 && aud[0] === resources.builtin) return '';
  let ids = AUDIENCE_MARK;
  for (const r of aud) {
    const id = resourceIdOf(r);
    if (resources.resourceOf(id) !== r) throw new Error(`resource "${r}" is not a configured resource`);
    ids += id;
  }
  return `${ids}|`;
}

/** Pure: the audience of a stored record (see the format above). */
function audienceOf(ids: string | undefined, resources: ResourceDirectory): readonly string[] {
  if (ids === undefined) return resources.builtinOnly;
  const aud: string[] = [];
  for (let i = 0; i + RESOURCE_ID_CHARS <= ids.length; i += RESOURCE_ID_CHARS) {
    const r = resources.resourceOf(ids.slice(i, i + RESOURCE_ID_CHARS));
    if (r !== undefined) aud.push(r);
  }
  return aud;
}

export function encodeRecord(r: AccessTokenRecord, issuers: IssuerDirectory, resources: ResourceDirectory): string {
  const life = (r.exp - r.iat).toString(ISO_BASE);
  const id = issuers.shortIdOf(r.iss);
  const did = r.did === undefined ? '' : UUID.test(r.did) ? packUuid(r.did) : escapeField(r.did);
  const fields = [
    r.iat.toString(ISO_BASE).padStart(IAT_CHARS, '0') + life,
    id === undefined ? escapeField(r.iss) : `~${id}`,
    did,
    r.did !== undefined && r.sub === r.did ? '' : escapeField(r.sub),
    r.aid === undefined ? '' : escapeField(r.aid),
    escapeField(r.jti),
    r.scope === undefined ? '' : escapeField(r.scope),
    r.cnf ? r.cnf.jkt : '',
  ];
  let n = fields.length;
  while (n > 0 && fields[n - 1] === '') n -= 1;
  return audiencePrefix(r.aud, resources) + fields.slice(0, n).join('|');
}

/** Format 1: compact JSON with short keys (before migration 2). */
interface StoredV1 {
  s: string;
  d?: string;
  a?: string;
  i: string;
  j: string;
  sc?: string;
  t: number;
  e: number;
  k?: string;
}

function decodeV1(text: string, resources: ResourceDirectory): AccessTokenRecord {
  const s = JSON.parse(text) as StoredV1;
  const r: AccessTokenRecord = { sub: s.s, iss: s.i, jti: s.j, aud: resources.builtinOnly, iat: s.t, exp: s.e };
  if (s.d !== undefined) r.did = s.d;
  if (s.a !== undefined) r.aid = s.a;
  if (s.sc !== undefined) r.scope = s.sc;
  if (s.k !== undefined) r.cnf = { jkt: s.k };
  return r;
}

/** The record, or null when its issuer is unknown or no longer trusted (the token is then simply not found). */
export function decodeRecord(text: string, issuers: IssuerDirectory, resources: ResourceDirectory): AccessTokenRecord | null {
  if (text.startsWith('{')) {
    const r = decodeV1(text, resources);
    return issuers.accepts(r.iss) ? r : null;
  }
  let ids: string | undefined;
  let rest = text;
  if (text.startsWith(AUDIENCE_MARK)) {
    const bar = text.indexOf('|');
    if (bar < 0) return null;
    ids = text.slice(1, bar);
    rest = text.slice(bar + 1);
  }
  const f = rest.split('|');
  const times = f[0]!;
  const iat = parseInt(times.slice(0, IAT_CHARS), ISO_BASE);
  const exp = iat + parseInt(times.slice(IAT_CHARS), ISO_BASE);
  const issField = f[1] ?? '';
  let iss: string | undefined;
  if (issField.startsWith('~')) iss = issuers.issuerOf(issField.slice(1));
  else {
    iss = unescapeField(issField);
    if (!issuers.accepts(iss)) iss = undefined;
  }
  if (iss === undefined || !Number.isFinite(exp)) return null;
  const didField = f[2] ?? '';
  const did = didField === '' ? undefined : didField.startsWith('!') ? unpackUuid(didField) : unescapeField(didField);
  const subField = f[3] ?? '';
  const sub = subField === '' ? did : unescapeField(subField);
  if (sub === undefined) return null;
  const r: AccessTokenRecord = { sub, iss, jti: unescapeField(f[5] ?? ''), aud: audienceOf(ids, resources), iat, exp };
  if (did !== undefined) r.did = did;
  if (f[4]) r.aid = unescapeField(f[4]);
  if (f[6]) r.scope = unescapeField(f[6]);
  if (f[7]) r.cnf = { jkt: f[7] };
  return r;
}
