import type { AccessTokenRecord } from './store.js';

/** Compact JSON for the stored record: short keys keep Redis memory per token low. */
interface Stored {
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

export function encodeRecord(r: AccessTokenRecord): string {
  const stored: Stored = { s: r.sub, i: r.iss, j: r.jti, t: r.iat, e: r.exp };
  if (r.did !== undefined) stored.d = r.did;
  if (r.aid !== undefined) stored.a = r.aid;
  if (r.scope !== undefined) stored.sc = r.scope;
  if (r.cnf) stored.k = r.cnf.jkt;
  return JSON.stringify(stored);
}

export function decodeRecord(text: string): AccessTokenRecord {
  const s = JSON.parse(text) as Stored;
  const r: AccessTokenRecord = { sub: s.s, iss: s.i, jti: s.j, iat: s.t, exp: s.e };
  if (s.d !== undefined) r.did = s.d;
  if (s.a !== undefined) r.aid = s.a;
  if (s.sc !== undefined) r.scope = s.sc;
  if (s.k !== undefined) r.cnf = { jkt: s.k };
  return r;
}
