import { describe, expect, it } from '@jest/globals';
import { runDevice } from '../../examples/dpop-device.js';
import { startAssetgate } from '../support/harness.js';

describe('examples/dpop-device.ts against the development issuer', () => {
  it.each([
    ['without nonces', {}],
    ['with server nonces', { DPOP_NONCE_SECRET: 'n'.repeat(32) }],
  ])('gets a DPoP-bound session and calls /resource with it (%s)', async (_label, env) => {
    const h = await startAssetgate({ env });
    try {
      const run = await runDevice(h.url);
      expect(run.tokenType).toBe('DPoP');
      expect(run.resource).toMatchObject({ via: 'access_token', iss: `${h.url}/dev-issuer` });
      expect(run.resource.jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
    } finally {
      await h.close();
    }
  });
});
