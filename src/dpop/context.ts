import type { Context, Next } from 'koa';
import type { TrustedIssuers } from '../assertion/issuers.js';
import type { Clock } from '../clock.js';
import type { DpopProofReplay } from '../tokens/store.js';
import { DPOP_HEADER, DPOP_NONCE_HEADER } from './constants.js';
import { createDpopNonces } from './nonce.js';
import { acceptedSchemes, policyFor, type ProofOfPossession } from './policy.js';
import type { DpopVerifierDeps, ProofRequest } from './proof.js';

/** The proof-of-possession settings (PROOF_OF_POSSESSION, DPOP_*). */
export interface DpopSettings {
  /** Global default; a trusted issuer's own `proofOfPossession` overrides it. */
  proofOfPossession: ProofOfPossession;
  algorithms: string[];
  /** A proof's iat may lie this far in the past (plus CLOCK_SKEW_SECONDS). */
  iatWindowSeconds: number;
  /** Set: stateless server nonces are demanded (RFC 9449 §8). */
  nonce: { secret: string; lifetimeSeconds: number } | undefined;
}

/** Everything the token endpoint and the resources need for proof of possession, built once. */
export interface DpopContext {
  globalPolicy: ProofOfPossession;
  issuers: TrustedIssuers;
  verifier: DpopVerifierDeps;
  /** External base URL: the only source of `htu` (never the Host header). */
  publicUrl: string;
}

export function createDpopContext(
  config: { dpop: DpopSettings; publicUrl: string; clockSkewSeconds: number },
  store: DpopProofReplay, issuers: TrustedIssuers, clock: Clock): DpopContext {
  const { dpop } = config;
  return {
    globalPolicy: dpop.proofOfPossession,
    issuers,
    publicUrl: config.publicUrl,
    verifier: {
      algorithms: dpop.algorithms,
      iatWindowSeconds: dpop.iatWindowSeconds,
      skewSeconds: config.clockSkewSeconds,
      clock,
      store,
      nonces: dpop.nonce ? createDpopNonces(dpop.nonce, clock) : undefined,
    },
  };
}

/** The policy for asset tokens (and sessions) of issuer `iss`. */
export const policyOf = (dpop: DpopContext, iss: string): ProofOfPossession => policyFor(dpop.issuers.get(iss), dpop.globalPolicy);

/** Schemes a resource can accept under every policy in force: what a bare 401 advertises. */
export const resourceSchemes = (dpop: DpopContext): { bearer: boolean; dpop: boolean } =>
  acceptedSchemes([dpop.globalPolicy, ...dpop.issuers.list().map((i) => policyFor(i, dpop.globalPolicy))]);

/** The proof-related parts of a request. Repeated DPoP headers stay separate (§4.3 item 1). */
export function presentedProof(ctx: Context, publicUrl: string): ProofRequest {
  // headersDistinct copies every header of the request: only asked for when a DPoP header came.
  const proofs = ctx.req.headers[DPOP_HEADER] === undefined ? [] : (ctx.req.headersDistinct[DPOP_HEADER] ?? []);
  return { proofs, method: ctx.method, url: `${publicUrl}${ctx.path}` };
}

/** Middleware: with server nonces on, every response offers the current nonce (§8.2: clients keep the latest). */
export function offerDpopNonce(dpop: DpopContext) {
  const nonces = dpop.verifier.nonces;
  // Not async: a middleware that only sets a header hands on next()'s promise (one less per request).
  return function offerDpopNonceMiddleware(ctx: Context, next: Next): Promise<void> {
    if (nonces) ctx.set(DPOP_NONCE_HEADER, nonces.current());
    return next();
  };
}
