import type { AssetClaims } from './claims-policy.js';
import type { RejectionReason } from './rejections.js';

/**
 * Told about every asset token decision (metrics, the development activity page). Called once per
 * token: accepted after the single-use mark was taken, rejected with the stable reason.
 */
export interface AssertionObserver {
  accepted(claims: AssetClaims): void;
  rejected(reason: RejectionReason): void;
}
