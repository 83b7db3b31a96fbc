import { describe, expect, it } from '@jest/globals';
import { limitKeysOf, originOf, type Refusal } from '../../src/redemption/refusals.js';

/** The failure limits' table (pure): who can cause a refusal decides what it counts against. */
describe('refusal table', () => {
  const assertion = (reason: Extract<Refusal, { of: 'assertion' }>['reason'], verified: boolean, proven = false): Refusal => ({ of: 'assertion', reason, verified, proven });

  it('use_dpop_nonce is the protocol (RFC 9449 §8), never a failure', () => {
    expect(originOf({ of: 'proof', reason: 'nonce_required' })).toBe('protocol');
    expect(limitKeysOf({ of: 'proof', reason: 'nonce_required' })).toEqual([]);
  });

  it("what nothing vouches for counts against the sender's address only", () => {
    for (const r of [assertion('bad_signature', false), assertion('malformed', false), assertion('unknown_key', false), { of: 'request' } as Refusal]) {
      expect(originOf(r)).toBe('anyone');
      expect(limitKeysOf(r)).toEqual(['client']);
    }
    expect(limitKeysOf({ of: 'proof', reason: 'bad_signature' })).toEqual(['client']);
    expect(limitKeysOf({ of: 'proof', reason: 'wrong_key' })).toEqual(['client']);
    expect(limitKeysOf({ of: 'possession', reason: 'proof_required' })).toEqual(['client']);
  });

  it("a genuine token refused for what it says or its history is a copy holder's doing", () => {
    for (const reason of ['expired', 'replayed', 'device_blocked', 'wrong_audience'] as const) {
      expect(originOf(assertion(reason, true))).toBe('copy_holder');
      expect(limitKeysOf(assertion(reason, true))).toEqual([]);
    }
    for (const reason of ['stale', 'replayed', 'issued_in_future'] as const) expect(limitKeysOf({ of: 'proof', reason })).toEqual([]);
  });

  it("a genuine token refused after a fresh proof from its own key is the key holder's doing", () => {
    expect(originOf(assertion('replayed', true, true))).toBe('key_holder');
    expect(limitKeysOf(assertion('replayed', true, true))).toEqual(['device']);
  });
});
