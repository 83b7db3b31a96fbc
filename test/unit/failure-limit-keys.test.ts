import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { createFailureLimits } from '../../src/ops/failure-limits.js';
import type { Refusal } from '../../src/redemption/refusals.js';
import { TestClock } from '../support/harness.js';

/**
 * A device is its issuer plus its id: refusals of issuer B's device count against B's device, never
 * against issuer A's device of the same id (which B's tokens could otherwise lock out at will).
 */
describe('per-device failure limits', () => {
  it('key the device by issuer and id', async () => {
    const limits = createFailureLimits({ perClient: 0, perDevice: 2, windowSeconds: 60 }, pino({ level: 'silent' }), new TestClock());
    // A refusal the table charges to the device whatever else it changes: the key's own holder.
    const refusal: Refusal = { of: 'assertion', reason: 'replayed', verified: true, proven: true };
    const a = { iss: 'https://a.example', subject: 'device-7' };
    const b = { iss: 'https://b.example', subject: 'device-7' };
    for (let i = 0; i < 2; i++) await limits.charge(refusal, { client: '127.0.0.1', device: b });
    await expect(limits.checkDevice(b)).rejects.toThrow(/too many/);
    await expect(limits.checkDevice(a)).resolves.toBeUndefined();
  });
});
