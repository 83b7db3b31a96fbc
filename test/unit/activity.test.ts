import { describe, expect, it } from '@jest/globals';
import { ActivityLog } from '../../src/ops/activity.js';
import type { RequestOutcome } from '../../src/ops/request-context.js';
import type { AssetClaims } from '../../src/assertion/claims-policy.js';

const clock = { now: () => 1_700_000_000_000 };
const outcome = (o: Partial<RequestOutcome>): RequestOutcome => ({
  route: '/resource',
  method: 'GET',
  status: 200,
  outcome: 'ok',
  seconds: 0.0021,
  grantType: undefined,
  principal: undefined,
  ...o,
});

describe('the development activity log, a subscriber of request outcomes and asset-token decisions', () => {
  it('counts exchanges, ingest by sequence and refusals from what it is told, without the metrics', () => {
    const log = new ActivityLog(clock);
    const token = log.assertionObserver('token');
    const resource = log.assertionObserver('resource');
    token.accepted({ subject: 'd1', did: 'd1' } as AssetClaims);
    log.observeRequest(outcome({ route: '/oauth2/token', method: 'POST', grantType: 'urn:x', outcome: 'ok' }));
    token.rejected('replayed');
    log.observeRequest(outcome({ route: '/oauth2/token', method: 'POST', status: 400, grantType: 'urn:x', outcome: 'invalid_grant' }));
    resource.rejected('expired');
    const device = { via: 'asset_token' as const, sub: 'd1', did: 'd1', iss: 'https://i', exp: 1 };
    log.observeRequest(outcome({ route: '/ingestapi', method: 'POST', status: 202, principal: device }));
    log.observeRequest(outcome({ route: '/ingestapi', method: 'POST', status: 202, principal: { ...device, via: 'access_token' } }));
    log.observeRequest(outcome({ route: 'unmatched', status: 404, outcome: 'http_404' }));

    const snapshot = log.snapshot() as { totals: Record<string, number>; rejections: Record<string, number>; recent: Array<{ kind: string; ms?: number }> };
    expect(snapshot.totals).toEqual({ exchangesIssued: 1, exchangesFailed: 1, ingestEvents: 2, ingestViaAccessToken: 1, ingestViaAssetToken: 1, requests: 5 });
    expect(snapshot.rejections).toEqual({ replayed: 1, expired: 1 });
    expect(snapshot.recent.map((e) => e.kind)).toEqual(['ingest', 'ingest', 'exchange', 'exchange']);
    expect(snapshot.recent[0]!.ms).toBe(2.1);
  });
});
