import type { RejectionReason } from '../assertion/rejections.js';
import type { DpopRejectionReason } from '../dpop/proof.js';

/**
 * One refused request, as the failure limits see it: what was refused and how far it got.
 * - `request`: refused before any token was read (form, grant type, parameters);
 * - `assertion`: the asset token itself; `verified` once its signature checked out (the issuer's
 *   word), `proven` once the request also carried a fresh proof from the token's own key;
 * - `proof`: the DPoP proof that came with it (RFC 9449 §4.3);
 * - `possession`: a resource wanted a proof and none came, or the DPoP scheme named no key (§7).
 */
export type Refusal =
  | { of: 'request' }
  | { of: 'assertion'; reason: RejectionReason; verified: boolean; proven: boolean }
  | { of: 'proof'; reason: DpopRejectionReason }
  | { of: 'possession'; reason: 'proof_required' | 'not_bound' };

/** Who can cause a refusal: that decides whom it may be held against. */
export type RefusalOrigin =
  /** An honest client's ordinary round trip (RFC 9449 §8 use_dpop_nonce): no failure at all. */
  | 'protocol'
  /** Nothing in it verified (a forger, garbage, a broken client): only the sender's address is known. */
  | 'anyone'
  /**
   * A genuine token or proof refused for what it says or for its history (expired, replayed,
   * revoked, for another audience): anyone holding a captured copy can cause it, and so can honest
   * devices (clock drift, a retry after a timeout).
   */
  | 'copy_holder'
  /** A genuine token refused although the request proved its key with a fresh proof: only the key's holder. */
  | 'key_holder';

export type LimitKey = 'client' | 'device';

/**
 * The table: which limit a refusal counts against. The client address pays only for what nothing
 * vouches for; the device pays only for what its own key did. A refusal that a holder of captured
 * tokens can cause counts against nothing, so that replaying a device's old tokens cannot get its
 * fresh ones refused, nor the address that thousands of honest devices share behind carrier NAT.
 */
export const LIMIT_KEYS: Readonly<Record<RefusalOrigin, readonly LimitKey[]>> = {
  protocol: [],
  anyone: ['client'],
  copy_holder: [],
  key_holder: ['device'],
};

/** Proof refusals of a proof whose signature checked out and which an honest device sends too. */
const GENUINE_PROOF_REFUSALS: ReadonlySet<DpopRejectionReason> = new Set<DpopRejectionReason>([
  'stale', // clock drift, or a captured proof sent late
  'issued_in_future', // clock drift
  'replayed', // a retry with the same proof, or a captured one
]);

export function originOf(refusal: Refusal): RefusalOrigin {
  switch (refusal.of) {
    case 'request':
    case 'possession':
      return 'anyone';
    case 'assertion':
      if (!refusal.verified) return 'anyone';
      return refusal.proven ? 'key_holder' : 'copy_holder';
    case 'proof':
      if (refusal.reason === 'nonce_required') return 'protocol';
      return GENUINE_PROOF_REFUSALS.has(refusal.reason) ? 'copy_holder' : 'anyone';
  }
}

/** The limit keys a refusal counts against (pure). */
export const limitKeysOf = (refusal: Refusal): readonly LimitKey[] => LIMIT_KEYS[originOf(refusal)];
