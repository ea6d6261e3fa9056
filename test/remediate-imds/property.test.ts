import { GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { ModifyInstanceMetadataOptionsCommand } from '@aws-sdk/client-ec2';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { remediateEvent } from '../../functions/remediate-imds/remediator.ts';
import { factsFromEc2Instance } from '../../functions/shared/instance.ts';
import { judgeInstance } from '../../functions/shared/judge.ts';
import {
  aComplianceChangeEvent,
  aConfig,
  anEksNode,
  autoModeNodeTags,
  fakeEc2,
  INSTANCE_ID,
  karpenterNodeTags,
  managedNodeTags,
  type NodeShape,
} from './builders.ts';
import { aHarness, cloudwatchMock, ec2Mock, resetMocks } from './harness.ts';

const EXEMPTION_TAG = 'imds-guard/exempt';

const tagSets = fc.constantFrom(
  managedNodeTags('prod'),
  managedNodeTags('staging'),
  karpenterNodeTags('prod'),
  autoModeNodeTags('prod'),
  { 'kubernetes.io/cluster/prod': 'owned' },
  { Name: 'bastion' },
);

const instanceShape = fc.record({
  state: fc.oneof(
    { arbitrary: fc.constant('running' as const), weight: 4 },
    { arbitrary: fc.constantFrom('pending', 'shutting-down', 'terminated', 'stopping', 'stopped'), weight: 1 },
  ),
  metadataState: fc.constantFrom('pending', 'applied'),
  httpTokens: fc.constantFrom('optional', 'required', undefined),
  hopLimit: fc.option(fc.oneof({ arbitrary: fc.integer({ min: 1, max: 4 }), weight: 4 }, fc.integer({ min: 1, max: 64 })), {
    nil: undefined,
    freq: 10,
  }),
  httpEndpoint: fc.constantFrom('enabled', 'disabled', undefined),
  instanceProfile: fc.boolean(),
  tags: fc.tuple(tagSets, fc.integer({ min: 0, max: 3 }).map((n) => n === 0)).map(([tags, exempt]) => (exempt ? { ...tags, [EXEMPTION_TAG]: 'yes' } : tags)),
  operator: fc.option(
    fc.record({ managed: fc.boolean(), principal: fc.constantFrom('eks.amazonaws.com', 'ec2.amazonaws.com') }),
    { nil: undefined, freq: 4 },
  ),
}) satisfies fc.Arbitrary<NodeShape>;

const parameters = fc
  .record({
    min: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 3 }), weight: 4 }, fc.integer({ min: 1, max: 64 })),
    maxOffset: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
    requireHttpEndpoint: fc.boolean(),
    requireInstanceProfile: fc.boolean(),
    clusterNames: fc.constantFrom('', 'prod', 'other'),
  })
  .map(({ min, maxOffset, ...rest }) => ({
    min,
    max: maxOffset === undefined ? undefined : Math.min(64, min + maxOffset),
    ...rest,
  }));

const scenario = fc.record({
  instance: fc.option(instanceShape, { nil: undefined, freq: 10 }),
  params: parameters,
  mode: fc.constantFrom('notify', 'enforce'),
  guard: fc.boolean(),
  imdsv1Calls: fc.constantFrom(0, 0, 3),
  readsUntilApplied: fc.integer({ min: 1, max: 6 }),
  remainingMs: fc.integer({ min: 1_000, max: 900_000 }),
});

describe('property: ModifyInstanceMetadataOptions', () => {
  const seen = { modified: 0, dryRun: 0, untouched: 0 };

  it('is called at most once, only for the event instance, only when in scope, not exempt, not Auto Mode, non-compliant and enforcing; the hop limit stays within bounds', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        resetMocks();
        const instance = s.instance === undefined ? undefined : anEksNode(s.instance);
        fakeEc2(ec2Mock, instance, { readsUntilApplied: s.readsUntilApplied });
        cloudwatchMock.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Sum: s.imdsv1Calls }] });
        const ruleParameters = {
          MinHopLimit: String(s.params.min),
          MaxHopLimit: s.params.max === undefined ? '' : String(s.params.max),
          RequireHttpEndpoint: String(s.params.requireHttpEndpoint),
          RequireInstanceProfile: String(s.params.requireInstanceProfile),
          ClusterNames: s.params.clusterNames,
          ExemptionTagKey: EXEMPTION_TAG,
        };
        const config = aConfig({
          REMEDIATION_MODE: s.mode,
          IMDSV1_GUARD: String(s.guard),
          RULE_PARAMETERS: JSON.stringify(ruleParameters),
        });

        const result = await remediateEvent(aComplianceChangeEvent(), aHarness({ config, remainingMs: s.remainingMs }).deps);

        const calls = ec2Mock.commandCalls(ModifyInstanceMetadataOptionsCommand).map((call) => call.args[0].input);
        const real = calls.filter((input) => !input.DryRun);
        expect(calls.length).toBeLessThanOrEqual(1);
        expect(result.modified).toBe(real.length === 1);
        if (real.length === 1) seen.modified++;
        else if (calls.length === 1) seen.dryRun++;
        else seen.untouched++;

        // The conditions, stated from the inputs rather than read back from the code under test.
        const tags = s.instance?.tags ?? {};
        const facts = instance && factsFromEc2Instance(instance);
        const autoMode =
          tags['eks:kubernetes-node-pool-name'] !== undefined ||
          (s.instance?.operator?.managed === true && s.instance.operator.principal.startsWith('eks'));
        const exempt = tags[EXEMPTION_TAG] !== undefined;
        const gone = s.instance === undefined || s.instance.state === 'terminated' || s.instance.state === 'shutting-down';
        const judgement = facts && judgeInstance(facts, config.ruleParameters);
        const inScope = !gone && judgement !== undefined && judgement.compliance !== 'NOT_APPLICABLE';
        const nonCompliant = judgement?.compliance === 'NON_COMPLIANT';

        if (real.length === 1) {
          expect(s.mode).toBe('enforce');
          expect(inScope && !exempt && !autoMode && nonCompliant).toBe(true);
        }
        if (calls.length === 1) {
          const input = calls[0]!;
          expect(input.InstanceId).toBe(INSTANCE_ID);
          expect(input.DryRun === true).toBe(s.mode === 'notify');
          const sent = input.HttpPutResponseHopLimit!;
          const max = s.params.max ?? 64;
          expect(sent).toBeGreaterThanOrEqual(s.params.min);
          expect(sent).toBeLessThanOrEqual(max);
          const current = s.instance?.hopLimit;
          if (current !== undefined && current <= max) expect(sent).toBeGreaterThanOrEqual(current);
          if (s.params.requireHttpEndpoint) expect(input.HttpEndpoint).toBe('enabled');
          // Tokens are enforced unless the guard saw IMDSv1 calls.
          const held = s.guard && s.imdsv1Calls > 0 && s.instance?.httpTokens !== 'required';
          expect(input.HttpTokens).toBe(held ? s.instance?.httpTokens : 'required');
        }

        // And the converse: an eligible node with a metadata problem this function may fix is fixed.
        const metadataFailures = judgement?.compliance === 'NON_COMPLIANT'
          ? judgement.checks.filter((c) => !c.passed && c.check !== 'instanceProfile').map((c) => c.check)
          : [];
        const onlyHeldTokens =
          metadataFailures.length === 1 && metadataFailures[0] === 'httpTokens' && s.guard && s.imdsv1Calls > 0;
        if (s.mode === 'enforce' && inScope && !autoMode && metadataFailures.length > 0 && !onlyHeldTokens) {
          expect(real).toHaveLength(1);
        }
        if (s.mode === 'notify') expect(real).toHaveLength(0);
      }),
      { numRuns: 400 },
    );
    // The generators must reach every branch often enough for the property to mean something.
    expect(seen.modified).toBeGreaterThan(10);
    expect(seen.dryRun).toBeGreaterThan(10);
    expect(seen.untouched).toBeGreaterThan(10);
  });
});
