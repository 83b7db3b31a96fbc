import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../../src/config.js';
import { dpopSigningAlgValuesSupported } from '../../src/dpop/metadata.js';
import { createDpopNonces } from '../../src/dpop/nonce.js';
import { acceptedSchemes, exchangeBinding, policyFor, resourceAccess } from '../../src/dpop/policy.js';
import { dpopChallenge } from '../../src/resource/challenge.js';
import { TestClock } from '../support/harness.js';

describe('proof-of-possession policy (pure)', () => {
  it('takes the issuer setting over the global default', () => {
    expect(policyFor(undefined, 'optional')).toBe('optional');
    expect(policyFor({}, 'off')).toBe('off');
    expect(policyFor({ proofOfPossession: 'required' }, 'off')).toBe('required');
  });

  it('decides the exchange binding', () => {
    expect(exchangeBinding('off', true, true)).toBe('bearer');
    expect(exchangeBinding('optional', false, true)).toBe('bearer');
    expect(exchangeBinding('optional', true, true)).toBe('bind_to_cnf');
    expect(exchangeBinding('optional', true, false)).toBe('bind_to_proof_key');
    expect(exchangeBinding('required', false, true)).toBe('proof_missing');
    expect(exchangeBinding('required', true, false)).toBe('cnf_missing');
    expect(exchangeBinding('required', false, false)).toBe('cnf_missing');
    expect(exchangeBinding('required', true, true)).toBe('bind_to_cnf');
  });

  it('decides resource access: bound access tokens never go as Bearer (§7.2)', () => {
    const bound = { jkt: 'k', bound: true };
    const cnf = { jkt: 'k', bound: false };
    expect(resourceAccess('Bearer', bound, 'off')).toBe('bound_token_as_bearer');
    expect(resourceAccess('Bearer', cnf, 'optional')).toBe('accept_bearer');
    expect(resourceAccess('Bearer', cnf, 'required')).toBe('proof_required');
    expect(resourceAccess('Bearer', undefined, 'required')).toBe('proof_required');
    expect(resourceAccess('DPoP', cnf, 'off')).toBe('verify_proof');
    expect(resourceAccess('DPoP', undefined, 'optional')).toBe('not_bound');
  });

  it('offers the schemes some policy accepts', () => {
    expect(acceptedSchemes(['optional'])).toEqual({ bearer: true, dpop: true });
    expect(acceptedSchemes(['off'])).toEqual({ bearer: true, dpop: false });
    expect(acceptedSchemes(['required'])).toEqual({ bearer: false, dpop: true });
    expect(acceptedSchemes(['off', 'required'])).toEqual({ bearer: true, dpop: true });
  });
});

describe('stateless nonces (RFC 9449 §8)', () => {
  it('accepts the current and the previous window only, and nothing forged', () => {
    const clock = new TestClock(1_000_000_000_000);
    const nonces = createDpopNonces({ secret: 's'.repeat(32), lifetimeSeconds: 60 }, clock);
    const first = nonces.current();
    expect(nonces.isValid(first)).toBe(true);
    clock.advance(60);
    expect(nonces.current()).not.toBe(first);
    expect(nonces.isValid(first)).toBe(true);
    clock.advance(60);
    expect(nonces.isValid(first)).toBe(false);
    expect(nonces.isValid('')).toBe(false);
    expect(nonces.isValid(`${nonces.current()}A`)).toBe(false);
    const other = createDpopNonces({ secret: 't'.repeat(32), lifetimeSeconds: 60 }, clock);
    expect(nonces.isValid(other.current())).toBe(false);
  });
});

describe('DPoP configuration', () => {
  it('defaults to optional, ES256 RS256 PS256 EdDSA, a 60 s window, no nonces', () => {
    expect(loadConfig({}).dpop).toEqual({ proofOfPossession: 'optional', algorithms: ['ES256', 'RS256', 'PS256', 'EdDSA'], iatWindowSeconds: 60, nonce: undefined });
  });

  it('reads the variables and names the bad one', () => {
    const c = loadConfig({ PROOF_OF_POSSESSION: 'required', DPOP_ALGORITHMS: 'ES384', DPOP_NONCE_SECRET: 'x'.repeat(32), DPOP_NONCE_LIFETIME_SECONDS: '30' });
    expect(c.dpop).toMatchObject({ proofOfPossession: 'required', algorithms: ['ES384'], nonce: { lifetimeSeconds: 30 } });
    expect(() => loadConfig({ PROOF_OF_POSSESSION: 'sometimes' })).toThrow(new ConfigError('PROOF_OF_POSSESSION: must be off, optional or required'));
    expect(() => loadConfig({ DPOP_ALGORITHMS: 'HS256' })).toThrow(/^DPOP_ALGORITHMS: "HS256"/);
    expect(() => loadConfig({ DPOP_ALGORITHMS: 'none' })).toThrow(/^DPOP_ALGORITHMS/);
    expect(() => loadConfig({ DPOP_NONCE_SECRET: 'short' })).toThrow(/^DPOP_NONCE_SECRET/);
  });
});

describe('DPoP challenge and metadata helpers', () => {
  it('builds RFC 9449 §7.1 challenges', () => {
    expect(dpopChallenge('r', ['ES256', 'RS256'])).toBe('DPoP realm="r", algs="ES256 RS256"');
    expect(dpopChallenge('r', ['ES256'], { code: 'invalid_dpop_proof', description: 'bad "x"' })).toBe(
      'DPoP realm="r", error="invalid_dpop_proof", error_description="bad x", algs="ES256"',
    );
  });

  it('builds the RFC 9449 §5.1 metadata member', () => {
    expect(dpopSigningAlgValuesSupported(['ES256'])).toEqual({ dpop_signing_alg_values_supported: ['ES256'] });
  });
});
