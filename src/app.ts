import Koa from 'koa';
import type { Logger } from 'pino';
import { devJwks, devMint, type DevIssuer } from './assertion/dev-issuer.js';
import type { TrustedIssuers } from './assertion/issuers.js';
import { observeAll } from './assertion/observer.js';
import type { VerifyContext } from './assertion/verify.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import { deviceRevocationEndpoint } from './admin/routes.js';
import { createDpopContext, offerDpopNonce, resourceSchemes } from './dpop/context.js';
import type { ActivityLog } from './ops/activity.js';
import { activityEndpoint, DASHBOARD_PATHS, dashboardPage, dashboardScript, dashboardStyle } from './ops/dashboard.js';
import { noFailureLimits, type FailureLimits } from './ops/failure-limits.js';
import { healthz, readyz, type KeyspaceCheck } from './ops/health.js';
import { Metrics, metricsEndpoint, type AssertionStage } from './ops/metrics.js';
import { requestContext, type RequestObserver } from './ops/request-context.js';
import { ClientRegistry } from './oauth/client-auth.js';
import { PATHS } from './oauth/constants.js';
import { jwtBearerGrant } from './oauth/grants/jwt-bearer.js';
import { grantRegistry } from './oauth/grants/registry.js';
import type { SessionIssuerDeps } from './oauth/grants/session-issuer.js';
import { tokenExchangeGrant } from './oauth/grants/token-exchange.js';
import { ResourceCatalog } from './oauth/resources.js';
import type { SessionPolicy } from './oauth/session-terms.js';
import { introspectionEndpoint, type ResourceServerEndpointDeps } from './oauth/introspect.js';
import { serveMetadata } from './oauth/metadata.js';
import { resourceMetadataUrl, serveProtectedResourceMetadata } from './oauth/protected-resource.js';
import { serveOpenApi } from './oauth/openapi.js';
import { renderErrors } from './oauth/render-error.js';
import { RouteTable } from './route-table.js';
import { revocationEndpoint } from './oauth/revoke.js';
import { tokenEndpoint } from './oauth/token-endpoint.js';
import { requireBearerSecret } from './resource/bearer-secret.js';
import { authenticate, consumeAssetToken, requireAuthorization, resourceChallenge, type GuardDeps } from './resource/guard.js';
import { parseJsonBody } from './resource/json-body.js';
import type { RedemptionDeps } from './redemption/redeem.js';
import type { IngestSink } from './ingest/event.js';
import { ingestEvent, showResource, type IngestDeps } from './resource/routes.js';
import type { AccessTokenStore, TokenStore } from './tokens/store.js';

export interface AppDeps {
  config: Config;
  store: TokenStore;
  ingest: IngestSink;
  issuers: TrustedIssuers;
  clock: Clock;
  logger: Logger;
  /** Present only when the embedded development issuer is in use. */
  devIssuer?: DevIssuer;
  /** Prometheus metrics; a fresh registry when absent. */
  metrics?: Metrics;
  /** Access tokens as the resource routes see them: with the lookup cache when RESOURCE_CACHE_TTL_MS is set. */
  resourceStore?: AccessTokenStore;
  /** The development activity page's log; never in production. */
  activity?: ActivityLog;
  /** Failed-exchange limits (per client IP, per device); none when absent. */
  failureLimits?: FailureLimits;
  /** Readiness also checks the Redis keyspace's schema version; absent for the in-memory store. */
  keyspace?: KeyspaceCheck;
}

/** Where sessions are valid and what they may carry, from the configuration. */
function sessionPolicy(config: Config): SessionPolicy {
  const { builtin, servers, defaults } = config.resources;
  return {
    resources: new ResourceCatalog(builtin, servers, defaults),
    scopesByIssuer: new Map(
      config.issuers.map((i) => [i.issuer, { scopes: i.scopes, assetScopes: i.assetScopes && new Map(Object.entries(i.assetScopes)) }]),
    ),
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
  };
}

/** The whole request flow, top to bottom. */
export function createApp(deps: AppDeps): Koa {
  const { config, store, ingest, clock, logger } = deps;
  const metrics = deps.metrics ?? new Metrics();
  const activity = config.activityPage ? deps.activity : undefined;
  const failureLimits = deps.failureLimits ?? noFailureLimits;
  const assertionObservers = (stage: AssertionStage) =>
    observeAll(activity ? [metrics.assertionObserver(stage), activity.assertionObserver(stage)] : [metrics.assertionObserver(stage)]);
  const verify: VerifyContext = {
    issuers: deps.issuers,
    audiences: config.audiences,
    skewSeconds: config.clockSkewSeconds,
    maxLifetimeSeconds: config.maxAssertionLifetimeSeconds,
    maxTokenBytes: config.assertionMaxBytes,
    clock,
  };
  const dpop = createDpopContext(config, store, deps.issuers, clock);
  // One redemption of asset tokens for the token endpoint and the bearer sequence; each tells its own observer.
  const redemption = (stage: AssertionStage): RedemptionDeps => ({ verify, dpop, uses: store, limits: failureLimits, observer: assertionObservers(stage) });
  const bearerRedemption = redemption('resource');
  const sessions: SessionIssuerDeps = {
    redemption: redemption('token'),
    clock,
    policy: sessionPolicy(config),
    dpop,
  };
  // RFC 9728: the built-in resource's metadata, named in its challenges; DPoP members as the policies say.
  const schemes = resourceSchemes(dpop);
  const builtinMetadata = {
    resource: config.resources.builtin.resource,
    authorizationServer: config.publicUrl,
    scopes: config.resources.builtin.scopes,
    dpop: schemes.dpop ? { algorithms: config.dpop.algorithms, boundTokensRequired: !schemes.bearer } : undefined,
  };
  const builtinMetadataUrl = resourceMetadataUrl(builtinMetadata.resource);
  const guard: GuardDeps = { challenge: resourceChallenge(config.realm, dpop, builtinMetadataUrl), resource: config.resources.builtin.resource, store: deps.resourceStore ?? store, dpop, redemption: bearerRedemption, failureLimits };
  const grants = grantRegistry([jwtBearerGrant(sessions), tokenExchangeGrant(sessions)]);
  const resourceServers: ResourceServerEndpointDeps = {
    store,
    clients: new ClientRegistry(config.introspectionClients),
    issuer: config.publicUrl,
    realm: config.realm,
    formMaxBytes: config.formMaxBytes,
    failureLimits,
  };

  const ingestion: IngestDeps = { ingest, redemption: bearerRedemption, clock };

  // Each route's middlewares, top to bottom (route-table.ts: exact paths dispatch without matching).
  const router = new RouteTable();
  router.post(PATHS.token, ...tokenEndpoint(grants, config.formMaxBytes, dpop, failureLimits));
  router.post(PATHS.introspect, ...introspectionEndpoint(resourceServers));
  router.post(PATHS.revoke, ...revocationEndpoint(resourceServers));
  router.get(PATHS.metadata, serveMetadata(config, grants));
  router.get(new URL(builtinMetadataUrl).pathname, serveProtectedResourceMetadata(builtinMetadata));
  router.get(PATHS.openapi, serveOpenApi(config, grants));
  if (config.adminApiKey !== undefined) {
    const admin = {
      apiKey: config.adminApiKey,
      realm: `${config.realm}-admin`,
      store,
      trustedIssuers: deps.issuers.list().map((i) => i.issuer),
      clock,
      maxBodyBytes: config.formMaxBytes,
      logger,
    };
    router.post(PATHS.adminDeviceRevoke, ...deviceRevocationEndpoint(admin));
  }
  router.get(PATHS.resource, offerDpopNonce(dpop), requireAuthorization(guard), authenticate(guard, { acceptAssetTokens: true }), showResource);
  router.post(
    PATHS.ingest,
    offerDpopNonce(dpop),
    requireAuthorization(guard),
    // A session (or an asset token's signature) is checked before up to INGEST_MAX_BYTES are read.
    authenticate(guard, { acceptAssetTokens: true, consumeAfterBody: true }),
    parseJsonBody(config.ingest.maxBytes),
    consumeAssetToken(guard),
    ingestEvent(ingestion),
  );
  router.get(PATHS.healthz, healthz);
  router.get(PATHS.readyz, readyz(store, logger, deps.keyspace));
  if (config.metricsToken !== undefined) {
    router.get(PATHS.metrics, requireBearerSecret(config.metricsToken, config.realm), metricsEndpoint(metrics));
  } else if (config.mode !== 'production') {
    router.get(PATHS.metrics, metricsEndpoint(metrics));
  } else {
    // Metrics name routes, issuers and refusal rates: never served unauthenticated in production.
    logger.warn('/metrics is not served: set METRICS_TOKEN to serve it in production (scrape with Authorization: Bearer <METRICS_TOKEN>)');
  }
  if (activity) {
    router.get(DASHBOARD_PATHS.page, dashboardPage);
    router.get(DASHBOARD_PATHS.script, dashboardScript);
    router.get(DASHBOARD_PATHS.style, dashboardStyle);
    router.get(DASHBOARD_PATHS.activity, activityEndpoint(activity));
  }
  if (deps.devIssuer) {
    router.get(`${PATHS.devIssuer}/id/keys`, devJwks(deps.devIssuer));
    router.post(`${PATHS.devIssuer}/asset-tokens`, devMint(deps.devIssuer));
  }

  // Client addresses (failure limits) come from X-Forwarded-For only behind configured proxies.
  const app = new Koa({ proxy: config.trustedProxyHops > 0, maxIpsCount: config.trustedProxyHops });
  app.silent = true; // errors are rendered and logged by renderErrors, never printed by koa
  // Metrics and the activity page subscribe to one outcome per request; neither reads the other.
  const observeRequest: RequestObserver = activity
    ? (outcome) => {
        metrics.observeRequest(outcome);
        activity.observeRequest(outcome);
      }
    : metrics.observeRequest;
  app.use(requestContext(logger, observeRequest)); // request id, security headers, outcome, access log
  app.use(renderErrors(logger, metrics.failureCause));
  app.use(router.routes());
  return app;
}
