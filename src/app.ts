import Router from '@koa/router';
import Koa, { type Middleware } from 'koa';
import compose from 'koa-compose';
import type { Logger } from 'pino';
import { devJwks, devMint, type DevIssuer } from './assertion/dev-issuer.js';
import type { TrustedIssuers } from './assertion/issuers.js';
import type { VerifyContext } from './assertion/verify.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import { deviceRevocationEndpoint } from './admin/routes.js';
import { createDpopContext, offerDpopNonce } from './dpop/context.js';
import type { ActivityLog } from './ops/activity.js';
import { activityEndpoint, DASHBOARD_PATHS, dashboardPage, dashboardScript, dashboardStyle } from './ops/dashboard.js';
import { noFailureLimits, type FailureLimits } from './ops/failure-limits.js';
import { healthz, readyz } from './ops/health.js';
import { Metrics, metricsEndpoint } from './ops/metrics.js';
import { requestContext } from './ops/request-context.js';
import { ClientRegistry } from './oauth/client-auth.js';
import { PATHS } from './oauth/constants.js';
import { jwtBearerGrant } from './oauth/grants/jwt-bearer.js';
import { grantRegistry } from './oauth/grants/registry.js';
import type { SessionIssuerDeps } from './oauth/grants/session-issuer.js';
import { tokenExchangeGrant } from './oauth/grants/token-exchange.js';
import { introspectionEndpoint, type ResourceServerEndpointDeps } from './oauth/introspect.js';
import { serveMetadata } from './oauth/metadata.js';
import { serveOpenApi } from './oauth/openapi.js';
import { renderErrors } from './oauth/render-error.js';
import { revocationEndpoint } from './oauth/revoke.js';
import { tokenEndpoint } from './oauth/token-endpoint.js';
import { requireBearerSecret } from './resource/bearer-secret.js';
import { authenticate, requireAuthorization, resourceChallenge, type GuardDeps } from './resource/guard.js';
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
  /** Prometheus metrics; a fresh registry when absent. */
  metrics?: Metrics;
  /** The store as the resource routes see it: with the lookup cache when RESOURCE_CACHE_TTL_MS is set. */
  resourceStore?: TokenStore;
  /** The development activity page's log; never in production. */
  activity?: ActivityLog;
  /** Failed-exchange limits (per client IP, per device); none when absent. */
  failureLimits?: FailureLimits;
}

/**
 * One route's middlewares, composed once at start-up: the router composes (and flattens) what it is
 * given on every request, so each route hands it a single function (issue 5).
 */
const steps = (...middleware: Middleware[]): Middleware => compose(middleware);

/** The whole request flow, top to bottom. */
export function createApp(deps: AppDeps): Koa {
  const { config, store, ingest, clock, logger } = deps;
  const metrics = deps.metrics ?? new Metrics();
  const activity = config.mode === 'production' ? undefined : deps.activity;
  const failureLimits = deps.failureLimits ?? noFailureLimits;
  const verify: VerifyContext = {
    issuers: deps.issuers,
    audiences: config.audiences,
    skewSeconds: config.clockSkewSeconds,
    maxLifetimeSeconds: config.maxAssertionLifetimeSeconds,
    maxTokenBytes: config.assertionMaxBytes,
    clock,
  };
  const dpop = createDpopContext(config, store, deps.issuers, clock);
  const sessions: SessionIssuerDeps = {
    verify,
    store,
    clock,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    supportedScopes: config.supportedScopes,
    dpop,
    observer: metrics.assertionObserver('token', activity),
    failureLimits,
  };
  const guard: GuardDeps = { challenge: resourceChallenge(config.realm, dpop), store: deps.resourceStore ?? store, verify, clock, dpop, observer: metrics.assertionObserver('resource', activity), failureLimits };
  const grants = grantRegistry([jwtBearerGrant(sessions), tokenExchangeGrant(sessions)]);
  const resourceServers: ResourceServerEndpointDeps = {
    store,
    clients: new ClientRegistry(config.introspectionClients),
    issuer: config.publicUrl,
    realm: config.realm,
    formMaxBytes: config.formMaxBytes,
  };

  const router = new Router();
  router.post(PATHS.token, steps(...tokenEndpoint(grants, config.formMaxBytes, dpop, failureLimits)));
  router.post(PATHS.introspect, steps(...introspectionEndpoint(resourceServers)));
  router.post(PATHS.revoke, steps(...revocationEndpoint(resourceServers)));
  router.get(PATHS.metadata, serveMetadata(config));
  router.get(PATHS.openapi, serveOpenApi(config));
  if (config.adminApiKey !== undefined) {
    router.post(
      PATHS.adminDeviceRevoke,
      steps(...deviceRevocationEndpoint({ apiKey: config.adminApiKey, realm: `${config.realm}-admin`, store, clock, maxBodyBytes: config.formMaxBytes })),
    );
  }
  router.get(PATHS.resource, steps(offerDpopNonce(dpop), requireAuthorization(guard), authenticate(guard, { acceptAssetTokens: true }), showResource));
  router.post(
    PATHS.ingest,
    steps(
      offerDpopNonce(dpop),
      requireAuthorization(guard),
      parseJsonBody(config.ingest.maxBytes),
      authenticate(guard, { acceptAssetTokens: true }),
      ingestEvent({ ingest, store, clock }),
    ),
  );
  router.get(PATHS.healthz, healthz);
  router.get(PATHS.readyz, readyz(store));
  router.get(
    PATHS.metrics,
    config.metricsToken === undefined ? metricsEndpoint(metrics) : steps(requireBearerSecret(config.metricsToken, config.realm), metricsEndpoint(metrics)),
  );
  if (activity) {
    router.get(DASHBOARD_PATHS.page, dashboardPage);
    router.get(DASHBOARD_PATHS.script, dashboardScript);
    router.get(DASHBOARD_PATHS.style, dashboardStyle);
    router.get(DASHBOARD_PATHS.activity, activityEndpoint(activity, metrics));
  }
  if (deps.devIssuer) {
    router.get(`${PATHS.devIssuer}/id/keys`, devJwks(deps.devIssuer));
    router.post(`${PATHS.devIssuer}/asset-tokens`, devMint(deps.devIssuer));
  }

  // Client addresses (failure limits) come from X-Forwarded-For only behind configured proxies.
  const app = new Koa({ proxy: config.trustedProxyHops > 0, maxIpsCount: config.trustedProxyHops });
  app.silent = true; // errors are rendered and logged by renderErrors, never printed by koa
  app.use(requestContext(logger, metrics.requestObserver(activity))); // request id, security headers, metrics, access log
  app.use(renderErrors(logger, metrics.failureCause));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
