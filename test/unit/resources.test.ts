import { describe, expect, it } from '@jest/globals';
import { InvalidScope, InvalidTarget } from '../../src/oauth/errors.js';
import { parseFormBody, formValues } from '../../src/oauth/form.js';
import { lifetimeCapSeconds, ResourceCatalog, resourceIdentifierProblem, type ResourceServer } from '../../src/oauth/resources.js';
import { allowedScopes } from '../../src/oauth/scope-policy.js';
import { sessionTerms, type SessionPolicy } from '../../src/oauth/session-terms.js';

const rs = (resource: string, over: Partial<ResourceServer> = {}): ResourceServer => ({ resource, name: undefined, scopes: [], maxTokenLifetimeSeconds: undefined, ...over });
const BUILTIN = rs('https://assetgate.example', { scopes: ['ingest'] });
const TELEMETRY = rs('https://telemetry.example/v1', { name: 'telemetry', scopes: ['telemetry:write', 'telemetry:read'], maxTokenLifetimeSeconds: 600 });
const FIRMWARE = rs('https://firmware.example', { name: 'firmware', scopes: ['firmware:read'] });
const catalog = new ResourceCatalog(BUILTIN, [TELEMETRY, FIRMWARE], [BUILTIN.resource]);

describe('resource identifiers (RFC 8707 §2)', () => {
  it.each([
    ['https://telemetry.example/v1', undefined],
    ['http://127.0.0.1:8080', undefined],
    ['http://telemetry.example', /https/],
    ['https://telemetry.example/#x', /fragment/],
    ['https://user:pw@telemetry.example', /credentials/],
    ['telemetry', /absolute URI/],
  ])('%s', (value, problem) => {
    const found = resourceIdentifierProblem(value);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });
});

describe('ResourceCatalog', () => {
  it('gives the default set when nothing is asked', () => {
    expect(catalog.targetsOf({ resources: [], audiences: [] })).toEqual([BUILTIN]);
  });

  it('takes identifiers as `resource`, names or identifiers as `audience`, without duplicates', () => {
    expect(catalog.targetsOf({ resources: [TELEMETRY.resource, TELEMETRY.resource], audiences: [] })).toEqual([TELEMETRY]);
    expect(catalog.targetsOf({ resources: [], audiences: ['firmware', FIRMWARE.resource] })).toEqual([FIRMWARE]);
    expect(catalog.targetsOf({ resources: [BUILTIN.resource], audiences: ['telemetry'] })).toEqual([BUILTIN, TELEMETRY]);
  });

  it.each([
    [{ resources: ['https://unknown.example'], audiences: [] }, /not one this server/],
    [{ resources: ['telemetry'], audiences: [] }, /absolute URI/],
    [{ resources: ['https://telemetry.example/v1#frag'], audiences: [] }, /fragment/],
    [{ resources: ['https://telemetry.example/v1/'], audiences: [] }, /not one this server/],
    [{ resources: [], audiences: ['billing'] }, /not one this server/],
  ])('refuses %j with invalid_target', (request, message) => {
    let thrown: unknown;
    try {
      catalog.targetsOf(request);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InvalidTarget);
    expect((thrown as InvalidTarget).status).toBe(400);
    expect((thrown as InvalidTarget).code).toBe('invalid_target');
    expect((thrown as InvalidTarget).description).toMatch(message);
  });

  it('refuses a configuration with repeated identifiers or names, or an unknown default', () => {
    expect(() => new ResourceCatalog(BUILTIN, [rs(BUILTIN.resource)], [BUILTIN.resource])).toThrow(/listed twice/);
    expect(() => new ResourceCatalog(BUILTIN, [TELEMETRY, rs('https://other.example', { name: 'telemetry' })], [BUILTIN.resource])).toThrow(/name "telemetry"/);
    expect(() => new ResourceCatalog(BUILTIN, [TELEMETRY], ['https://firmware.example'])).toThrow(/default resource/);
  });

  it('caps the lifetime at the smallest cap among the targets', () => {
    expect(lifetimeCapSeconds([BUILTIN], 3600)).toBe(3600);
    expect(lifetimeCapSeconds([BUILTIN, TELEMETRY], 3600)).toBe(600);
    expect(lifetimeCapSeconds([TELEMETRY], 300)).toBe(300);
  });
});

describe('scopes from policy, not from the device', () => {
  it('allows what some target accepts, narrowed per issuer and per listed asset', () => {
    expect([...allowedScopes([TELEMETRY], undefined, undefined)]).toEqual(['telemetry:write', 'telemetry:read']);
    expect([...allowedScopes([BUILTIN, FIRMWARE], undefined, undefined)]).toEqual(['ingest', 'firmware:read']);
    const policy = { scopes: ['telemetry:read'], assetScopes: new Map([['02iCONSOLE', ['telemetry:read', 'telemetry:write']]]) };
    expect([...allowedScopes([TELEMETRY], policy, '02iOTHER')]).toEqual(['telemetry:read']);
    expect([...allowedScopes([TELEMETRY], policy, undefined)]).toEqual(['telemetry:read']);
    expect([...allowedScopes([TELEMETRY], policy, '02iCONSOLE')]).toEqual(['telemetry:write', 'telemetry:read']);
    // Nothing configured: nothing.
    expect(allowedScopes([rs('https://bare.example')], undefined, undefined).size).toBe(0);
  });

  it('sessionTerms: audience, scope, lifetime; a scope beyond policy is invalid_scope', () => {
    const policy: SessionPolicy = { resources: catalog, scopesByIssuer: new Map(), accessTokenTtlSeconds: 3600 };
    const device = { iss: 'https://issuer.example', aid: '02iX' };
    const request = { scope: 'telemetry:read', resources: [TELEMETRY.resource], audiences: [] };
    expect(sessionTerms([TELEMETRY], request, device, policy)).toEqual({ aud: [TELEMETRY.resource], scope: 'telemetry:read', lifetimeSeconds: 600 });
    expect(() => sessionTerms([BUILTIN], { ...request, scope: 'telemetry:read' }, device, policy)).toThrow(InvalidScope);
    expect(sessionTerms([BUILTIN], { ...request, scope: undefined }, device, policy).scope).toBeUndefined();
  });
});

describe('repeatable form parameters', () => {
  it('keeps every value of a repeatable parameter and still refuses other repeats', () => {
    const form = parseFormBody('resource=a&scope=x&resource=b&resource=c', new Set(['resource']));
    expect(formValues(form, 'resource')).toEqual(['a', 'b', 'c']);
    expect(formValues(form, 'audience')).toEqual([]);
    expect(formValues(form, 'scope')).toEqual(['x']);
    expect(() => parseFormBody('resource=a&scope=x&scope=y', new Set(['resource']))).toThrow(/"scope" is repeated/);
    expect(() => parseFormBody('resource=a&resource=b')).toThrow(/"resource" is repeated/);
  });
});
