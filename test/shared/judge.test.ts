import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { annotate, MAX_ANNOTATION_LENGTH } from '../../functions/shared/annotation.ts';
import { factsFromConfigurationItem, type InstanceFacts } from '../../functions/shared/instance.ts';
import { judgeInstance, metadataTarget } from '../../functions/shared/judge.ts';
import { parseRuleParameters, type RuleParameters } from '../../functions/shared/parameters.ts';
import { anInstanceConfiguration, managedNodeTags, type InstanceShape } from '../builders/config-item.ts';

const defaults = parseRuleParameters({});
const AT = new Date('2026-11-20T09:00:00Z');

function facts(shape: InstanceShape = {}): InstanceFacts {
  const configuration = anInstanceConfiguration(shape);
  return factsFromConfigurationItem(configuration.instanceId, configuration, shape.tags ?? managedNodeTags());
}

describe('judgeInstance: each check on its own', () => {
  describe.each([
    // tokens, hop, endpoint, profile, params, expected compliance, failing checks
    ['required', 2, 'enabled', true, {}, 'COMPLIANT', []],
    ['required', 64, 'enabled', true, {}, 'COMPLIANT', []],
    ['required', 1, 'enabled', true, {}, 'NON_COMPLIANT', ['hopLimit']],
    ['optional', 2, 'enabled', true, {}, 'NON_COMPLIANT', ['httpTokens']],
    ['optional', 1, 'enabled', true, {}, 'NON_COMPLIANT', ['httpTokens', 'hopLimit']],
    ['required', 2, 'disabled', true, {}, 'NON_COMPLIANT', ['httpEndpoint']],
    ['required', 2, 'disabled', true, { RequireHttpEndpoint: 'false' }, 'COMPLIANT', []],
    ['required', 2, 'enabled', false, {}, 'NON_COMPLIANT', ['instanceProfile']],
    ['required', 2, 'enabled', false, { RequireInstanceProfile: 'false' }, 'COMPLIANT', []],
    ['required', 1, 'enabled', true, { MinHopLimit: '1' }, 'COMPLIANT', []],
    ['required', 3, 'enabled', true, { MinHopLimit: '2', MaxHopLimit: '2' }, 'NON_COMPLIANT', ['hopLimit']],
    ['required', 2, 'enabled', true, { MinHopLimit: '2', MaxHopLimit: '2' }, 'COMPLIANT', []],
    ['required', 64, 'enabled', true, { MaxHopLimit: '63' }, 'NON_COMPLIANT', ['hopLimit']],
    ['required', 2, 'enabled', true, { MinHopLimit: '1', MaxHopLimit: '1' }, 'NON_COMPLIANT', ['hopLimit']],
    ['optional', 1, 'disabled', false, {}, 'NON_COMPLIANT', ['httpTokens', 'hopLimit', 'httpEndpoint', 'instanceProfile']],
  ] as const)('tokens %s, hop %i, endpoint %s, profile %s, params %j', (httpTokens, hopLimit, httpEndpoint, instanceProfile, raw, compliance, failing) => {
    const judgement = judgeInstance(facts({ httpTokens, hopLimit, httpEndpoint, instanceProfile }), parseRuleParameters(raw), AT);

    it(`is ${compliance}`, () => {
      expect(judgement.compliance).toBe(compliance);
    });

    it(`fails exactly ${failing.join(', ') || 'nothing'}`, () => {
      if (judgement.compliance === 'NOT_APPLICABLE') throw new Error('unexpected NOT_APPLICABLE');
      expect(judgement.checks.filter((c) => !c.passed).map((c) => c.check)).toEqual(failing);
    });
  });

  it('judges a pending change on its values and says so', () => {
    const judgement = judgeInstance(facts({ metadataState: 'pending', hopLimit: 2 }), defaults, AT);
    expect(judgement).toMatchObject({ compliance: 'COMPLIANT', pending: true });
    expect(annotate(judgement)).toContain('(metadata change pending)');
  });

  it('treats missing metadata options as failing, not as compliant', () => {
    const bare = { ...facts(), metadata: { state: undefined, httpTokens: undefined, httpPutResponseHopLimit: undefined, httpEndpoint: undefined } };
    const judgement = judgeInstance(bare, defaults, AT);
    expect(judgement.compliance).toBe('NON_COMPLIANT');
    expect(annotate(judgement)).toContain('HttpTokens absent (want required)');
  });
});

describe('judgeInstance: scope', () => {
  it.each([
    ['terminated', facts({ state: 'terminated' }), defaults, 'instance-gone', 'instance is terminated'],
    ['shutting-down', facts({ state: 'shutting-down' }), defaults, 'instance-gone', 'instance is shutting-down'],
    ['not a node', facts({ tags: { Name: 'bastion' } }), defaults, 'not-eks-node', 'not an EKS node'],
    ['other cluster', facts(), parseRuleParameters({ ClusterNames: 'staging' }), 'cluster-not-selected', 'cluster "prod" is not in ClusterNames'],
  ] as const)('%s → NOT_APPLICABLE', (_name, instance, params, reason, annotation) => {
    const judgement = judgeInstance(instance, params, AT);
    expect(judgement).toMatchObject({ compliance: 'NOT_APPLICABLE', reason });
    expect(annotate(judgement)).toContain(annotation);
  });

  it('keeps a selected cluster in scope', () => {
    expect(judgeInstance(facts(), parseRuleParameters({ ClusterNames: 'staging,prod' }), AT).compliance).toBe('COMPLIANT');
  });
});

describe('judgeInstance: exemptions never hide a finding', () => {
  const exempt = (value: string, shape: InstanceShape = {}) =>
    judgeInstance(facts({ hopLimit: 1, ...shape, tags: { ...managedNodeTags(), 'imds-guard/exempt': value } }), defaults, AT);

  it('keeps a failing exempt node NON_COMPLIANT, and says it is exempt and until when, after the failing checks', () => {
    const judgement = exempt('until=2027-01-31;reason=SEC-123 legacy agent');
    expect(judgement).toMatchObject({ compliance: 'NON_COMPLIANT', exemption: { status: 'active', until: '2027-01-31', reason: 'SEC-123 legacy agent' } });
    expect(annotate(judgement)).toBe(
      'HopLimit 1 (want >=2); exempt until 2027-01-31 (reason "SEC-123 legacy agent"): not remediated; cluster "prod". ' +
        'Fix: aws ec2 modify-instance-metadata-options --instance-id i-0123456789abcdef0 --http-tokens required --http-put-response-hop-limit 2',
    );
  });

  it('keeps a passing exempt node COMPLIANT and still names the exemption', () => {
    expect(annotate(exempt('until=2027-01-31', { hopLimit: 2 }))).toBe(
      'compliant: HttpTokens required, HopLimit 2, HttpEndpoint enabled, InstanceProfile attached; exempt until 2027-01-31; cluster "prod"',
    );
  });

  it.each([
    ['no expiry', 'INC-1234', 'exemption ignored: no expiry (the value must be until=YYYY-MM-DD, optionally ;reason=...)'],
    ['a malformed expiry', 'until=31/01/2027', 'exemption ignored: expiry "31/01/2027" is not a date (YYYY-MM-DD)'],
    ['a past expiry', 'until=2026-11-19', 'exemption ignored: expired on 2026-11-19'],
    ['an expiry beyond ExemptionMaxDays', 'until=2027-02-19', 'exemption ignored: expiry 2027-02-19 is more than ExemptionMaxDays (90) days away'],
  ])('ignores an exemption with %s and says why', (_name, value, note) => {
    const judgement = exempt(value);
    expect(judgement).toMatchObject({ compliance: 'NON_COMPLIANT', exemption: { status: 'ignored' } });
    expect(annotate(judgement).startsWith(`HopLimit 1 (want >=2); ${note}; cluster "prod"`)).toBe(true);
  });

  it('judges the expiry against the evaluation time it is given', () => {
    const tags = { ...managedNodeTags(), 'imds-guard/exempt': 'until=2026-11-20' };
    expect(judgeInstance(facts({ tags }), defaults, new Date('2026-11-20T23:59:59Z'))).toMatchObject({ exemption: { status: 'active' } });
    expect(judgeInstance(facts({ tags }), defaults, new Date('2026-11-21T00:00:00Z'))).toMatchObject({ exemption: { status: 'ignored', problem: 'expired on 2026-11-20' } });
  });
});

describe('annotate', () => {
  it('gives actual vs expected and the exact fix command', () => {
    const judgement = judgeInstance(facts({ httpTokens: 'optional', hopLimit: 1 }), defaults, AT);
    expect(annotate(judgement)).toBe(
      'HttpTokens optional (want required); HopLimit 1 (want >=2); cluster "prod". ' +
        'Fix: aws ec2 modify-instance-metadata-options --instance-id i-0123456789abcdef0 --http-tokens required --http-put-response-hop-limit 2',
    );
  });

  it('adds --http-endpoint enabled only when the endpoint is off', () => {
    const judgement = judgeInstance(facts({ httpEndpoint: 'disabled', hopLimit: 3 }), defaults, AT);
    expect(annotate(judgement)).toBe(
      'HttpEndpoint disabled (want enabled); cluster "prod". Fix: aws ec2 modify-instance-metadata-options --instance-id i-0123456789abcdef0 --http-tokens required --http-put-response-hop-limit 3 --http-endpoint enabled',
    );
  });

  it('asks for an instance profile without a fix command that cannot fix it', () => {
    expect(annotate(judgeInstance(facts({ instanceProfile: false }), defaults, AT))).toBe('no instance profile (attach one); cluster "prod"');
  });

  it('does not offer a fix for an EKS Auto Mode node', () => {
    const tags = { 'eks:eks-cluster-name': 'auto', 'eks:kubernetes-node-pool-name': 'system' };
    const text = annotate(judgeInstance(facts({ tags, hopLimit: 1, operator: { managed: true, principal: 'eks.amazonaws.com' } }), defaults, AT));
    expect(text).toBe('HopLimit 1 (want >=2); cluster "auto". EKS Auto Mode node: owned by EKS, not modified');
  });

  it('drops the fix before cutting, and marks a cut', () => {
    const cluster = 'c'.repeat(100);
    const long = judgeInstance(facts({ tags: managedNodeTags(cluster), httpTokens: 'optional', hopLimit: 1, httpEndpoint: 'disabled' }), defaults, AT);
    const text = annotate(long);
    expect(text.length).toBeLessThanOrEqual(MAX_ANNOTATION_LENGTH);
    expect(text).not.toContain('Fix:');
    expect(text).toContain('HttpEndpoint disabled (want enabled)');
  });
});

describe('annotate: cutting', () => {
  it.each(Array.from({ length: 8 }, (_, pad) => pad))('never leaves half a surrogate pair (padding %i)', (pad) => {
    const cluster = `${'x'.repeat(pad)}${'😀'.repeat(125)}`;
    const text = annotate(judgeInstance(facts({ tags: managedNodeTags(cluster), hopLimit: 1, httpTokens: 'optional', httpEndpoint: 'disabled' }), defaults, AT));
    expect(text.length).toBeLessThanOrEqual(MAX_ANNOTATION_LENGTH);
    expect(text.endsWith('...')).toBe(true);
    expect(text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});

describe('metadataTarget', () => {
  it.each([
    [1, {}, 2],
    [2, {}, 2],
    [5, {}, 5],
    [5, { MaxHopLimit: '3' }, 3],
    [1, { MinHopLimit: '4', MaxHopLimit: '8' }, 4],
  ] as const)('hop %i with %j → %i', (hopLimit, raw, expected) => {
    expect(metadataTarget(facts({ hopLimit }), parseRuleParameters(raw)).hopLimit).toBe(expected);
  });
});

const paramsArbitrary: fc.Arbitrary<RuleParameters> = fc
  .record({
    min: fc.integer({ min: 1, max: 64 }),
    span: fc.option(fc.integer({ min: 0, max: 63 }), { nil: undefined }),
    requireHttpEndpoint: fc.boolean(),
    requireInstanceProfile: fc.boolean(),
  })
  .map(({ min, span, requireHttpEndpoint, requireInstanceProfile }) => ({
    ...defaults,
    minHopLimit: min,
    maxHopLimit: span === undefined ? undefined : Math.min(64, min + span),
    requireHttpEndpoint,
    requireInstanceProfile,
  }));

const instanceArbitrary: fc.Arbitrary<InstanceFacts> = fc
  .record({
    instanceId: fc.stringMatching(/^i-[0-9a-f]{8,17}$/),
    cluster: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/),
    httpTokens: fc.constantFrom('required', 'optional', undefined),
    hop: fc.option(fc.integer({ min: 1, max: 64 }), { nil: undefined }),
    httpEndpoint: fc.constantFrom('enabled', 'disabled', undefined),
    metadataState: fc.constantFrom('applied', 'pending'),
    hasInstanceProfile: fc.boolean(),
    autoMode: fc.boolean(),
  })
  .map((i) => ({
    instanceId: i.instanceId,
    state: 'running',
    tags: i.autoMode ? { 'eks:eks-cluster-name': i.cluster, 'eks:kubernetes-node-pool-name': 'p' } : managedNodeTags(i.cluster),
    hasInstanceProfile: i.hasInstanceProfile,
    metadata: { state: i.metadataState, httpTokens: i.httpTokens, httpPutResponseHopLimit: i.hop, httpEndpoint: i.httpEndpoint },
    operator: i.autoMode ? { managed: true, principal: 'eks.amazonaws.com' } : undefined,
  }));

describe('properties', () => {
  it('annotation ≤ 256 characters, and COMPLIANT exactly when every enabled check passes', () => {
    fc.assert(
      fc.property(instanceArbitrary, paramsArbitrary, (instance, params) => {
        const judgement = judgeInstance(instance, params, AT);
        expect(annotate(judgement).length).toBeLessThanOrEqual(MAX_ANNOTATION_LENGTH);
        const m = instance.metadata;
        const allPass =
          m.httpTokens === 'required' &&
          m.httpPutResponseHopLimit !== undefined &&
          m.httpPutResponseHopLimit >= params.minHopLimit &&
          (params.maxHopLimit === undefined || m.httpPutResponseHopLimit <= params.maxHopLimit) &&
          (!params.requireHttpEndpoint || m.httpEndpoint === 'enabled') &&
          (!params.requireInstanceProfile || instance.hasInstanceProfile);
        expect(judgement.compliance === 'COMPLIANT').toBe(allPass);
        expect(judgement.compliance).not.toBe('NOT_APPLICABLE');
      }),
      { numRuns: 2000 },
    );
  });

  it('the target always passes the hop and token checks', () => {
    fc.assert(
      fc.property(instanceArbitrary, paramsArbitrary, (instance, params) => {
        const target = metadataTarget(instance, params);
        const fixed = { ...instance, hasInstanceProfile: true, metadata: { state: 'applied', httpTokens: target.httpTokens, httpPutResponseHopLimit: target.hopLimit, httpEndpoint: 'enabled' } };
        expect(judgeInstance(fixed, params, AT).compliance).toBe('COMPLIANT');
      }),
    );
  });
});
