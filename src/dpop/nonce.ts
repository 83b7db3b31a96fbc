import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';

/**
 * Stateless server nonces (RFC 9449 §8, §9): a nonce is HMAC-SHA256(secret, time window). Any
 * instance sharing DPOP_NONCE_SECRET can check it without storage. A nonce minted in the current or
 * the previous window is accepted, so each lives between one and two windows.
 */
export interface DpopNonces {
  /** The nonce to hand out now (DPoP-Nonce header). */
  current(): string;
  isValid(nonce: string): boolean;
}

export interface NonceSettings {
  secret: string;
  lifetimeSeconds: number;
}

export function createDpopNonces(settings: NonceSettings, clock: Clock): DpopNonces {
  const windowMs = settings.lifetimeSeconds * 1000;
  const nonceOf = (window: number): Buffer => createHmac('sha256', settings.secret).update(`assetgate dpop nonce ${window}`).digest();
  const windowNow = (): number => Math.floor(clock.now() / windowMs);
  return {
    current: () => nonceOf(windowNow()).toString('base64url'),
    isValid(nonce: string): boolean {
      const presented = Buffer.from(nonce, 'base64url');
      // base64url decoding is lenient: insist the text round-trips before comparing bytes.
      if (presented.length !== 32 || presented.toString('base64url') !== nonce) return false;
      const w = windowNow();
      return [w, w - 1].some((win) => timingSafeEqual(presented, nonceOf(win)));
    },
  };
}
