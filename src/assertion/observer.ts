import type { AssetClaims } from './claims-policy.js';
import type { RejectionReason } from './rejections.js';

/**
 * Told about every asset token decision (metrics, the development activity page). Called once per
 * token: accepted after the single-use mark was taken, rejected with the stable reason; released
 * when an accepted token's mark was given back because what the request did with it failed (the
 * bearer sequence's event refused or not stored), so the device may present it again. Accepted
 * minus released is what was spent.
 */
export interface AssertionObserver {
  accepted(claims: AssetClaims): void;
  rejected(reason: RejectionReason): void;
  released(): void;
}

/** Several observers as one (metrics and the development activity page, wired in app.ts). */
export function observeAll(observers: readonly AssertionObserver[]): AssertionObserver {
  if (observers.length === 1) return observers[0]!;
  return {
    accepted: (claims) => {
      for (const o of observers) o.accepted(claims);
    },
    rejected: (reason) => {
      for (const o of observers) o.rejected(reason);
    },
    released: () => {
      for (const o of observers) o.released();
    },
  };
}
