import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import { devJwks, devMint, type DevIssuer } from './assertion/dev-issuer.js';
import type { TrustedIssuers } from './assertion/issuers.js';
import type { VerifyContext } from './assertion/verify.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import { noFailureLimits, type FailureLimits } from './ops/failure-limits.js';
import { healthz, readyz } from './ops/health.js';
import { requestContext, securityHeaders } from './ops/request-context.js';
import { PATHS } from './oauth/constants.js';
import { jwtBearerGrant } from './oauth/grants/jwt-bearer.js';
import { grantRegistry } from './oauth/grants/registry.js';
import type { SessionIssuerDeps } from './oauth/grants/session-issuer.js';
import { tokenExchangeGrant } from './oauth/grants/token-exchange.js';
import { renderErrors } from './oauth/render-error.js';
import { tokenEndpoint } from './oauth/token-endpoint.js';
import { authenticate, requireBearer, type GuardDeps } from './resource/guard.js';
import { parseJsonBody } from './resource/json-body.js';
import { ingestEvent, showResource } from './resource/routes.js';
import type { IngestStream, TokenStore } from './tokens/store.js';

export interface AppDeps {
  config: Config;
  store: TokenStore;
  ingest: IngestStream;
  issuers: TrustedIssuers;
  clock: Clock;
  logger: Logger;
  /** Present only when the embedded development issuer is in use. */
  devIssuer?: DevIssuer;
  /** Failed-exchange limits (per client IP, per device); none when absent. */
  failureLimits?: FailureLimits;
}

/** The whole request flow, top to bottom. */
export function createApp(deps: AppDeps): Koa {
  const { config, store, ingest, clock, logger } = deps;
  const failureLimits = deps.failureLimits ?? noFailureLimits;
  const verify: VerifyContext = {
    issuers: deps.issuers,
    audiences: config.audiences,
    skewSeconds: config.clockSkewSeconds,
    maxLifetimeSeconds: config.maxAssertionLifetimeSeconds,
    maxTokenBytes: config.assertionMaxBytes,
    clock,
  };
  const sessions: SessionIssuerDeps = {
    verify,
    store,
    clock,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    supportedScopes: config.supportedScopes,
    failureLimits,
  };
  const guard: GuardDeps = { realm: config.realm, store, verify, clock, failureLimits };
  const grants = grantRegistry([jwtBearerGrant(sessions), tokenExchangeGrant(sessions)]);

  const router = new Router();
  router.post(PATHS.token, ...tokenEndpoint(grants, config.formMaxBytes, failureLimits));
  router.get(PATHS.resource, requireBearer(config.realm), authenticate(guard, { acceptAssetTokens: true }), showResource);
  router.post(
    PATHS.ingest,
    requireBearer(config.realm),
    parseJsonBody(config.ingest.maxBytes),
    authenticate(guard, { acceptAssetTokens: true }),
    ingestEvent({ ingest, store, clock }),
  );
  router.get(PATHS.healthz, healthz);
  router.get(PATHS.readyz, readyz(store));
  if (deps.devIssuer) {
    router.get(`${PATHS.devIssuer}/id/keys`, devJwks(deps.devIssuer));
    router.post(`${PATHS.devIssuer}/asset-tokens`, devMint(deps.devIssuer));
  }

  const app = new Koa({ proxy: false });
  app.silent = true; // errors are rendered and logged by renderErrors, never printed by koa
  app.use(requestContext(logger));
  app.use(securityHeaders);
  app.use(renderErrors(logger));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
