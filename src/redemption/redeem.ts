import type { AssetClaims } from '../assertion/claims-policy.js';
import type { AssertionObserver } from '../assertion/observer.js';
import { AssertionRejected } from '../assertion/rejections.js';
import { verifyAssetToken, type VerifyContext } from '../assertion/verify.js';
import { policyOf, type DpopContext } from '../dpop/context.js';
import { bindExchange, cnfThumbprint } from '../dpop/exchange.js';
import { PossessionRefused, proveAtResource } from '../dpop/possession.js';
import { DpopProofRejected, type ProofRequest } from '../dpop/proof.js';
import type { FailureLimits } from '../ops/failure-limits.js';
import type { AssertionUse, AssertionUseStore, Device, NewAccessToken } from '../tokens/store.js';
import type { Refusal } from './refusals.js';

export interface RedemptionDeps {
  verify: VerifyContext;
  dpop: DpopContext;
  /** Single-use marks (and the session saved with the mark, atomically). */
  uses: AssertionUseStore;
  /** Only the device check: refusals are charged by the caller, who knows the client address. */
  limits: Pick<FailureLimits, 'checkDevice'>;
  /** Metrics and the development activity page. */
  observer?: AssertionObserver | undefined;
}

/**
 * Where the asset token is redeemed, which decides how possession is shown:
 * - `token_endpoint`: a DPoP proof binds the new session (RFC 9449 §5, §6); `session` builds the
 *   access token saved atomically with the single-use mark;
 * - `resource`: the bearer sequence, where the asset token is the credential of the call (§7: a
 *   proof from its cnf key with `ath` over it when the scheme is DPoP or the policy requires one).
 */
export type RedemptionSite =
  | { at: 'token_endpoint'; proof: ProofRequest; session: (claims: AssetClaims, jkt: string | undefined) => NewAccessToken }
  | { at: 'resource'; scheme: 'Bearer' | 'DPoP'; proof: ProofRequest };

export interface Redemption {
  claims: AssetClaims;
  /** The single-use mark taken (the bearer sequence gives it back through releaseRedemption if its own write fails). */
  use: AssertionUse;
  /** The proven key's RFC 7638 thumbprint, when the request proved one. */
  jkt: string | undefined;
}

/** A refused redemption: what it was (for the failure limits' table), why (for the client's error), and whose. */
export class RedemptionRefused extends Error {
  override name = 'RedemptionRefused';
  constructor(
    readonly refusal: Refusal,
    readonly rejection: AssertionRejected | DpopProofRejected | PossessionRefused,
    /** The verified device (issuer and id), when the asset token's signature checked out. */
    readonly device: Device | undefined,
  ) {
    super(rejection.message);
  }
}

/**
 * The device a redemption belongs to: the issuer that vouched for the token and the subject it names
 * there. Two issuers naming the same id name two devices (failure limits, revocation, keys).
 */
export const deviceOf = (claims: Pick<AssetClaims, 'iss' | 'subject'>): Device => ({ iss: claims.iss, subject: claims.subject });

/**
 * The single-use mark of an asset token lives until its exp plus skew (RFC 7523 §3 item 7), rounded
 * up to the whole second: the claims check compares exp with whole seconds (the clock rounded down),
 * so a fractional exp (RFC 7519 §2 NumericDate) verifies until the next whole second after exp + skew.
 */
export function assertionUseOf(claims: AssetClaims, skewSeconds: number): AssertionUse {
  const issuedAt = claims.iat ?? claims.nbf;
  return {
    iss: claims.iss,
    jti: claims.jti,
    subject: claims.subject,
    forgetAtMs: Math.ceil(claims.exp + skewSeconds) * 1000,
    issuedAtMs: issuedAt === undefined ? undefined : issuedAt * 1000,
  };
}

const CONSUME_REFUSALS = {
  replayed: 'assertion has already been used',
  device_blocked: 'assertion was issued before the device was revoked',
} as const;

/**
 * Redeems an asset token, the one way both the token endpoint and the bearer sequence do it:
 * verify it (RFC 7523 §3, RFC 8725); refuse a device over its failure limit; show possession of the
 * device key as the site asks (before anything is consumed, so a use_dpop_nonce retry can reuse the
 * asset token); consume its single-use id, atomically with saving the session when there is one; tell
 * the observer. Every refusal is a RedemptionRefused; an over-limit device is TooManyRequests and a
 * store or issuer outage its own error, neither of them a refusal.
 */
export async function redeemAssetToken(token: string, site: RedemptionSite, deps: RedemptionDeps): Promise<Redemption> {
  return consumeRedemption(await verifyRedemption(token, site, deps), deps);
}

/** An asset token verified and its possession shown, not consumed yet (verifyRedemption). */
export interface VerifiedRedemption {
  site: RedemptionSite;
  claims: AssetClaims;
  jkt: string | undefined;
  /** The request proved the token's own key with a fresh proof (the refusal table's `proven`). */
  proven: boolean;
}

/**
 * The first half of a redemption, which writes nothing but a DPoP proof's mark: verify, refuse a
 * device over its limit, show possession. The bearer sequence reads the request body between the
 * halves, so a body that is refused (413, 415, 400) leaves the asset token unspent, and nothing of
 * the body is read before the token is known to be genuine.
 */
export async function verifyRedemption(token: string, site: RedemptionSite, deps: RedemptionDeps): Promise<VerifiedRedemption> {
  let claims: AssetClaims;
  try {
    claims = await verifyAssetToken(token, deps.verify);
  } catch (err) {
    if (err instanceof AssertionRejected) throw refused(deps, err, false);
    throw err;
  }
  const device = deviceOf(claims);
  await deps.limits.checkDevice(device);

  let jkt: string | undefined;
  let proven: boolean;
  try {
    if (site.at === 'token_endpoint') {
      const binding = await bindExchange(claims, site.proof, deps.dpop);
      jkt = binding?.jkt;
      proven = binding?.cnfProven ?? false;
    } else {
      // The device key's thumbprint matters only when a DPoP proof is to be matched against it.
      const cnfJkt = site.scheme === 'DPoP' ? await cnfThumbprint(claims) : undefined;
      const presented = { scheme: site.scheme, token, key: cnfJkt === undefined ? undefined : { jkt: cnfJkt, bound: false } };
      jkt = await proveAtResource(presented, policyOf(deps.dpop, claims.iss), site.proof, deps.dpop.verifier);
      proven = jkt !== undefined;
    }
  } catch (err) {
    if (err instanceof AssertionRejected) {
      // Raised about the verified token itself (its cnf claim, the policy): the issuer's word.
      err.verified = true;
      err.subject ??= claims.subject;
      err.iss ??= claims.iss;
      throw refused(deps, err, false);
    }
    if (err instanceof DpopProofRejected) throw new RedemptionRefused({ of: 'proof', reason: err.reason }, err, device);
    if (err instanceof PossessionRefused) {
      throw new RedemptionRefused({ of: 'possession', reason: err.access === 'not_bound' ? 'not_bound' : 'proof_required' }, err, device);
    }
    throw err;
  }
  return { site, claims, jkt, proven };
}

/** The second half: consume the single-use id (atomically with saving the session, if any), tell the observer. */
export async function consumeRedemption(verified: VerifiedRedemption, deps: RedemptionDeps): Promise<Redemption> {
  const { site, claims, jkt, proven } = verified;
  const use = assertionUseOf(claims, deps.verify.skewSeconds);
  const outcome = await deps.uses.consumeAssertion(use, site.at === 'token_endpoint' ? site.session(claims, jkt) : undefined);
  if (outcome !== 'accepted') {
    const rejection = new AssertionRejected(outcome, CONSUME_REFUSALS[outcome]);
    rejection.verified = true;
    rejection.subject = claims.subject;
    rejection.iss = claims.iss;
    throw refused(deps, rejection, proven);
  }
  deps.observer?.accepted(claims);
  return { claims, use, jkt };
}

/**
 * Gives an accepted asset token back: its single-use mark is removed, so the same token can be
 * presented again, and the observer hears of it only once that worked (a mark still in place means
 * the token was spent). Never throws: the caller is already answering with the failure that made
 * it give the token back.
 */
export async function releaseRedemption(use: AssertionUse, deps: Pick<RedemptionDeps, 'uses' | 'observer'>): Promise<void> {
  try {
    await deps.uses.releaseAssertion(use);
  } catch {
    return;
  }
  deps.observer?.released();
}

function refused(deps: RedemptionDeps, rejection: AssertionRejected, proven: boolean): RedemptionRefused {
  deps.observer?.rejected(rejection.reason);
  const { subject, iss } = rejection;
  const device = subject === undefined || iss === undefined ? undefined : deviceOf({ iss, subject });
  return new RedemptionRefused({ of: 'assertion', reason: rejection.reason, verified: rejection.verified, proven }, rejection, device);
}
