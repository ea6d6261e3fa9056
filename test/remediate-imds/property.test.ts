import { GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { CreateTagsCommand, ModifyInstanceMetadataOptionsCommand } from '@aws-sdk/client-ec2';
import { PublishCommand, type PublishCommandInput } from '@aws-sdk/client-sns';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LEDGER_TAG_KEY, parseLedger } from '../../functions/remediate-imds/ledger.ts';
import { remediateEvent } from '../../functions/remediate-imds/remediator.ts';
import { factsFromEc2Instance } from '../../functions/shared/instance.ts';
import { judgeInstance } from '../../functions/shared/judge.ts';
import {
  aComplianceChangeEvent,
  aConfig,
  anEksNode,
  autoModeNodeTags,
  awsError,
  fakeEc2,
  INSTANCE_ID,
  karpenterNodeTags,
  managedNodeTags,
  type NodeShape,
} from './builders.ts';
import { aHarness, cloudwatchMock, ec2Mock, jsonBlock, resetMocks, snsMock, START } from './harness.ts';

const EXEMPTION_TAG = 'imds-guard/exempt';
// The harness clock starts 2026-11-20: one valid exemption, and ones that are ignored (past, too far, no expiry).
const VALID_EXEMPTION = 'until=2026-12-01;reason=SEC-1';
const EXEMPTION_VALUES = [VALID_EXEMPTION, 'until=2026-11-01', 'until=2027-11-01', 'yes'] as const;

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
  tags: fc
    .tuple(tagSets, fc.option(fc.constantFrom(...EXEMPTION_VALUES), { nil: undefined, freq: 2 }))
    .map(([tags, exemption]) => (exemption === undefined ? tags : { ...tags, [EXEMPTION_TAG]: exemption })),
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

type ScenarioParameters = typeof parameters extends fc.Arbitrary<infer T> ? T : never;

const scenario = fc.record({
  instance: fc.option(instanceShape, { nil: undefined, freq: 10 }),
  params: parameters,
  mode: fc.constantFrom('notify', 'enforce'),
  guard: fc.boolean(),
  imdsv1Calls: fc.constantFrom(0, 0, 3),
  readsUntilApplied: fc.integer({ min: 1, max: 6 }),
  remainingMs: fc.integer({ min: 1_000, max: 900_000 }),
});

function configFor(s: { readonly params: ScenarioParameters; readonly mode: string; readonly guard: boolean }) {
  const ruleParameters = {
    MinHopLimit: String(s.params.min),
    MaxHopLimit: s.params.max === undefined ? '' : String(s.params.max),
    RequireHttpEndpoint: String(s.params.requireHttpEndpoint),
    RequireInstanceProfile: String(s.params.requireInstanceProfile),
    ClusterNames: s.params.clusterNames,
    ExemptionTagKey: EXEMPTION_TAG,
  };
  return aConfig({ REMEDIATION_MODE: s.mode, IMDSV1_GUARD: String(s.guard), RULE_PARAMETERS: JSON.stringify(ruleParameters) });
}

/** Every CreateTags call wrote the ledger tag, and nothing else, on the event's instance. */
function expectOnlyLedgerTags(): void {
  for (const call of ec2Mock.commandCalls(CreateTagsCommand)) {
    const input = call.args[0].input;
    expect(input.Resources).toEqual([INSTANCE_ID]);
    expect(input.Tags?.map((tag) => tag.Key)).toEqual([LEDGER_TAG_KEY]);
    expect(parseLedger(input.Tags?.[0]?.Value)).toBeDefined();
  }
}

describe('property: ModifyInstanceMetadataOptions', () => {
  const seen = { modified: 0, dryRun: 0, untouched: 0 };

  it('is called at most once, only for the event instance, only when in scope, not exempt, not Auto Mode, non-compliant and enforcing; the hop limit stays within bounds; CreateTags writes only the ledger key on that instance', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        resetMocks();
        const instance = s.instance === undefined ? undefined : anEksNode(s.instance);
        fakeEc2(ec2Mock, instance, { readsUntilApplied: s.readsUntilApplied });
        cloudwatchMock.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Sum: s.imdsv1Calls }] });
        const config = configFor(s);

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
        // Only EC2's Operator field makes a node Auto Mode: the node pool tag alone never does.
        const autoMode = s.instance?.operator?.managed === true && s.instance.operator.principal === 'eks.amazonaws.com';
        const exempt = tags[EXEMPTION_TAG] === VALID_EXEMPTION;
        const gone = s.instance === undefined || s.instance.state === 'terminated' || s.instance.state === 'shutting-down';
        const judgement = facts && judgeInstance(facts, config.ruleParameters, new Date(START));
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
          // Only what the remediation role allows: the endpoint enabled when required, else untouched.
          expect(input.HttpEndpoint).toBe(s.params.requireHttpEndpoint ? 'enabled' : undefined);
          // Tokens are enforced unless the guard saw IMDSv1 calls; then they are left out, never "optional".
          const held = s.guard && s.imdsv1Calls > 0 && s.instance?.httpTokens !== 'required';
          expect(input.HttpTokens).toBe(held ? undefined : 'required');
          expect(input.HttpProtocolIpv6).toBeUndefined();
          expect(input.InstanceMetadataTags).toBeUndefined();
        }

        // And the converse: an eligible node with a metadata problem this function may fix is fixed.
        const metadataFailures = judgement?.compliance === 'NON_COMPLIANT'
          ? judgement.checks.filter((c) => !c.passed && c.check !== 'instanceProfile').map((c) => c.check)
          : [];
        const onlyHeldTokens =
          metadataFailures.length === 1 && metadataFailures[0] === 'httpTokens' && s.guard && s.imdsv1Calls > 0;
        if (s.mode === 'enforce' && inScope && !exempt && !autoMode && metadataFailures.length > 0 && !onlyHeldTokens) {
          expect(real).toHaveLength(1);
        }
        if (s.mode === 'notify') expect(real).toHaveLength(0);

        // The ledger: written unnotified before a real change and marked notified after the report, nothing else.
        expectOnlyLedgerTags();
        const states = ec2Mock.commandCalls(CreateTagsCommand).map((call) => parseLedger(call.args[0].input.Tags?.[0]?.Value)?.state);
        expect(states).toEqual(real.length === 1 ? ['unnotified', 'notified'] : []);
      }),
      { numRuns: 400 },
    );
    // The generators must reach every branch often enough for the property to mean something.
    expect(seen.modified).toBeGreaterThan(10);
    expect(seen.dryRun).toBeGreaterThan(10);
    expect(seen.untouched).toBeGreaterThan(10);
  });
});

type ModifyFault = 'none' | 'transient-landed' | 'transient-not-landed' | 'permanent';

const faults = fc.record({
  /** One entry per Publish call, in order: true = SNS fails it after the SDK's retries. */
  publish: fc.array(fc.boolean(), { maxLength: 12 }).map((list) => list.map((fail, i) => fail && i % 3 !== 2)),
  /** One entry per CreateTags call: true = fails transiently. */
  tags: fc.array(fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, fc.constant(true)), { maxLength: 12 }),
  /** One entry per real ModifyInstanceMetadataOptions call. */
  modify: fc.array(
    fc.oneof(
      { arbitrary: fc.constant<ModifyFault>('none'), weight: 5 },
      fc.constantFrom<ModifyFault>('transient-landed', 'transient-not-landed', 'permanent'),
    ),
    { maxLength: 4 },
  ),
  /** Deliveries of the same event after the first (EventBridge duplicates, replays). */
  duplicates: fc.integer({ min: 0, max: 2 }),
});

describe('property: delivery across execution environments', () => {
  const seen = { redelivered: 0, delivered: 0, lostForGood: 0 };

  it('modifies at most once per event; once an invocation succeeds after the change, its notification was delivered, exactly once unless marking it notified failed', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, faults, async (s, f) => {
        resetMocks();
        const instance = s.instance === undefined ? undefined : anEksNode(s.instance);
        const ec2 = fakeEc2(ec2Mock, instance, { readsUntilApplied: s.readsUntilApplied });
        cloudwatchMock.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Sum: s.imdsv1Calls }] });
        const config = configFor({ ...s, mode: 'enforce' });

        const publishFaults = [...f.publish];
        const delivered: PublishCommandInput[] = [];
        snsMock.on(PublishCommand).callsFake((input: PublishCommandInput) => {
          if (publishFaults.shift() === true) throw awsError('InternalErrorException');
          delivered.push(input);
          return { MessageId: `m-${delivered.length}` };
        });
        const tagFaults = [...f.tags];
        let notifiedWritesFailed = 0;
        ec2.tagFault = (input) => {
          if (tagFaults.shift() !== true) return undefined;
          if (input.Tags?.[0]?.Value?.includes('state=notified')) notifiedWritesFailed++;
          return awsError('RequestLimitExceeded');
        };
        const modifyFaults = [...f.modify];
        ec2.modifyFault = () => {
          const fault = modifyFaults.shift() ?? 'none';
          if (fault === 'none') return undefined;
          if (fault === 'permanent') return { error: awsError('UnauthorizedOperation'), landed: false };
          return { error: awsError('InternalError'), landed: fault === 'transient-landed' };
        };

        // Each delivery: Lambda's first attempt and up to two retries, every one in a fresh environment.
        let succeeded = false;
        for (let delivery = 0; delivery <= f.duplicates; delivery++) {
          for (let attempt = 0; attempt < 3; attempt++) {
            const outcome = await remediateEvent(aComplianceChangeEvent(), aHarness({ config, remainingMs: s.remainingMs }).deps).then(
              (result) => result,
              () => undefined,
            );
            if (outcome !== undefined) {
              succeeded = true;
              if (outcome.redelivered) seen.redelivered++;
              break;
            }
          }
        }

        expect(ec2.modifications.length).toBeLessThanOrEqual(1);
        expectOnlyLedgerTags();
        const reportsOfTheChange = delivered
          .map((input) => jsonBlock(input.Message ?? '').outcome)
          .filter((outcome) => outcome === 'remediated' || outcome === 'partially-remediated');
        if (ec2.modifications.length === 0) expect(reportsOfTheChange).toEqual([]);
        if (ec2.modifications.length === 1) {
          if (succeeded) {
            seen.delivered++;
            expect(reportsOfTheChange.length).toBeGreaterThanOrEqual(1);
            expect(reportsOfTheChange.length).toBeLessThanOrEqual(1 + notifiedWritesFailed);
          } else {
            // Every attempt of every delivery failed: the event is in the failure queue, the report in the log.
            seen.lostForGood++;
            expect(reportsOfTheChange).toEqual([]);
          }
        }
      }),
      { numRuns: 300 },
    );
    expect(seen.delivered).toBeGreaterThan(20);
    expect(seen.redelivered).toBeGreaterThan(10);
  });
});
