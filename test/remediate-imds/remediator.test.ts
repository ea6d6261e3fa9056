import { GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { CreateTagsCommand, DescribeInstancesCommand, ModifyInstanceMetadataOptionsCommand } from '@aws-sdk/client-ec2';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand } from '@aws-sdk/client-sns';
import { beforeEach, describe, expect, it } from 'vitest';
import { InvalidEventError } from '../../functions/shared/errors.ts';
import { MAX_SUBJECT_LENGTH } from '../../functions/remediate-imds/notification.ts';
import { LEDGER_TAG_KEY, parseLedger } from '../../functions/remediate-imds/ledger.ts';
import { REPORT_EVENT } from '../../functions/remediate-imds/report-delivery.ts';
import { NotificationDeliveryError, remediateEvent } from '../../functions/remediate-imds/remediator.ts';
import {
  ACCOUNT,
  aComplianceChangeEvent,
  aConfig,
  anEksNode,
  autoModeNodeTags,
  awsError,
  EVENT_ID,
  fakeEc2,
  INSTANCE_ID,
  karpenterNodeTags,
  managedNodeTags,
  REGION,
  TOPIC_ARN,
} from './builders.ts';
import {
  aHarness,
  cloudwatchMock,
  eventsMock,
  ec2Mock,
  onlyPublished,
  publishedMessages,
  resetMocks,
  silentLogger,
  snsMock,
  START,
} from './harness.ts';

beforeEach(resetMocks);

const enforce = (env: Record<string, string> = {}) => aConfig({ REMEDIATION_MODE: 'enforce', ...env });
const notify = (env: Record<string, string> = {}) => aConfig({ REMEDIATION_MODE: 'notify', ...env });

function realModifications() {
  return ec2Mock.commandCalls(ModifyInstanceMetadataOptionsCommand).filter((call) => !call.args[0].input.DryRun);
}

describe('trust: the event is validated and must be ours before any AWS call', () => {
  it.each([
    ['no id', { id: '' }, 'id:'],
    ['a detail-type no rule forwards', { 'detail-type': 'EC2 Spot Instance Interruption Warning' }, 'detail-type: must be one of "Config Rules Compliance Change", "EC2 Instance State-change Notification"'],
    ['the state-change detail-type on a compliance change', { 'detail-type': 'EC2 Instance State-change Notification' }, "detail.instance-id"],
    ['another source', { source: 'aws.ec2' }, 'source'],
  ])('refuses an event with %s', async (_name, patch, field) => {
    const event = { ...aComplianceChangeEvent(), ...patch };
    const error = await remediateEvent(event, aHarness().deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as Error).message).toContain(field);
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(snsMock.calls()).toHaveLength(0);
  });

  it.each([
    ['a COMPLIANT result', { complianceType: 'COMPLIANT' }, 'detail.newEvaluationResult.complianceType: must be NON_COMPLIANT'],
    ['another resource type', { resourceType: 'AWS::EC2::SecurityGroup' }, 'detail.resourceType'],
    ['a resource id that is no instance id', { instanceId: 'sg-0123456789abcdef0' }, 'detail.resourceId: must be an EC2 instance id'],
    ['another rule', { configRuleName: 'someone-elses-rule' }, 'detail.configRuleName "someone-elses-rule" is not this function\'s rule "eks-imds-guard"'],
    ['another account', { account: '444455556666' }, 'account 444455556666 is not this function\'s account 111122223333'],
    ['another region', { region: 'eu-west-1' }, 'region eu-west-1 is not this function\'s region us-east-1'],
  ])('refuses %s, touching nothing', async (_name, shape, message) => {
    const error = await remediateEvent(aComplianceChangeEvent(shape), aHarness().deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as Error).message).toContain(message);
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(cloudwatchMock.calls()).toHaveLength(0);
    expect(snsMock.calls()).toHaveLength(0);
  });

  it('refuses an envelope whose account disagrees with the detail', async () => {
    const event = aComplianceChangeEvent();
    const error = await remediateEvent({ ...event, account: '444455556666' }, aHarness().deps).catch((e: unknown) => e);
    expect((error as Error).message).toContain('detail.awsAccountId 111122223333 differs from account 444455556666');
  });
});

describe('skips, with the reason, from the instance as it is now', () => {
  it.each([
    ['gone (no reservation)', undefined, 'instance-gone'],
    ['terminated', anEksNode({ state: 'terminated' }), 'instance-gone'],
    ['shutting down', anEksNode({ state: 'shutting-down' }), 'instance-gone'],
    ['not an EKS node', anEksNode({ tags: { Name: 'bastion' } }), 'not-eks-node'],
    ['exempt', anEksNode({ tags: { ...managedNodeTags(), 'imds-guard/exempt': 'until=2026-12-31;reason=OPS-1234' } }), 'exempt'],
  ])('%s: reports skipped and modifies nothing', async (_name, instance, reason) => {
    fakeEc2(ec2Mock, instance);
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(result).toMatchObject({ outcome: 'skipped', reason, modified: false, published: true });
    expect(ec2Mock).not.toHaveReceivedCommand(ModifyInstanceMetadataOptionsCommand);
    expect(onlyPublished().attributes.outcome).toBe('skipped');
    expect(onlyPublished().report.reason).toBe(reason);
  });

  it('reports an exempt node skipped with the expiry and the reason, in text and JSON', async () => {
    for (const config of [enforce(), notify()]) {
      resetMocks();
      fakeEc2(ec2Mock, anEksNode({ tags: { ...managedNodeTags(), 'imds-guard/exempt': 'until=2026-12-31;reason=OPS-1234' } }));
      await remediateEvent(aComplianceChangeEvent(), aHarness({ config }).deps);
      expect(ec2Mock).not.toHaveReceivedCommand(ModifyInstanceMetadataOptionsCommand);
      const { report, message } = onlyPublished();
      expect(report).toMatchObject({
        outcome: 'skipped',
        reason: 'exempt',
        headline: 'exempt until 2026-12-31 (reason "OPS-1234"): not modified (the node stays NON_COMPLIANT in AWS Config)',
        exemption: { status: 'active', until: '2026-12-31', reason: 'OPS-1234', problem: null },
      });
      expect(message).toContain('\nExemption: exempt until 2026-12-31 (reason "OPS-1234") - not remediated\n');
    }
  });

  it.each([
    ['no expiry', 'legacy agent, ticket OPS-1234', 'no expiry (the value must be until=YYYY-MM-DD, optionally ;reason=...)'],
    ['an expiry in the past', 'until=2026-11-19;reason=OPS-1', 'expired on 2026-11-19'],
    ['an expiry beyond ExemptionMaxDays', 'until=2027-06-30', 'expiry 2027-06-30 is more than ExemptionMaxDays (90) days away'],
  ])('acts on a node whose exemption has %s, and says the exemption was ignored and why', async (_name, value, problem) => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ tags: { ...managedNodeTags(), 'imds-guard/exempt': value } }));
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(result).toMatchObject({ outcome: 'remediated', modified: true });
    expect(ec2.modifications).toHaveLength(1);
    const { report, message } = onlyPublished();
    expect(report.exemption).toMatchObject({ status: 'ignored', problem });
    expect(message).toContain(`\nExemption: exemption ignored: ${problem} - handled as if it had none\n`);
  });

  it('treats InvalidInstanceID.NotFound on the re-read as gone', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound'));
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'instance-gone' });
  });

  it('skips a cluster outside ClusterNames', async () => {
    fakeEc2(ec2Mock, anEksNode());
    const config = enforce({ RULE_PARAMETERS: '{"ClusterNames":"staging"}' });
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness({ config }).deps);
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'cluster-not-selected' });
    expect(realModifications()).toHaveLength(0);
  });

  it.each([
    ['with its node pool tag', anEksNode({ tags: autoModeNodeTags(), operator: { managed: true, principal: 'eks.amazonaws.com' } })],
    ['without tags of its own', anEksNode({ tags: { 'eks:eks-cluster-name': 'prod' }, operator: { managed: true, principal: 'eks.amazonaws.com' } })],
  ])('reports an EKS Auto Mode node (Operator eks.amazonaws.com) %s and never modifies or dry-runs it', async (_name, instance) => {
    for (const config of [enforce(), notify()]) {
      resetMocks();
      fakeEc2(ec2Mock, instance);
      const result = await remediateEvent(aComplianceChangeEvent(), aHarness({ config }).deps);
      expect(result).toMatchObject({ outcome: 'skipped', reason: 'auto-mode', published: true });
      expect(ec2Mock).not.toHaveReceivedCommand(ModifyInstanceMetadataOptionsCommand);
      const { report, message } = onlyPublished();
      expect(report.nodeKind).toBe('auto-mode');
      expect(report.drift).toBeNull();
      expect(message).toContain('EKS Auto Mode node');
    }
  });

  it('publishes nothing for an instance that is already compliant (duplicate or late delivery)', async () => {
    fakeEc2(ec2Mock, anEksNode({ hopLimit: 2 }));
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'already-compliant', published: false, modified: false });
    expect(snsMock.calls()).toHaveLength(0);
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
  });

  it('counts a change still pending with compliant values as done', async () => {
    fakeEc2(ec2Mock, anEksNode({ hopLimit: 2, metadataState: 'pending' }), { readsUntilApplied: 99 });
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'already-compliant', published: false });
  });
});

describe('enforce mode', () => {
  it('raises hop limit 1 to 2, sends the fields the rule sets, verifies and reports remediated', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ hopLimit: 1 }));
    const harness = aHarness();
    const result = await remediateEvent(aComplianceChangeEvent(), harness.deps);

    expect(result).toEqual({
      path: 'config',
      outcome: 'remediated',
      reason: 'applied',
      eventId: EVENT_ID,
      instanceId: INSTANCE_ID,
      cluster: 'prod',
      modified: true,
      published: true,
      redelivered: false,
      verified: true,
      // Event time 09:15:05, invoked at 09:15:10, verified on the first read 250 ms later.
      secondsToVerifiedFix: 5.25,
    });
    expect(ec2.modifications).toEqual([
      {
        InstanceId: INSTANCE_ID,
        HttpTokens: 'required',
        HttpPutResponseHopLimit: 2,
        HttpEndpoint: 'enabled',
      },
    ]);
    // Tokens were already required: the guard has nothing to look at.
    expect(cloudwatchMock.calls()).toHaveLength(0);

    const { subject, attributes, report, message, input } = onlyPublished();
    expect(input.TopicArn).toBe(TOPIC_ARN);
    expect(subject).toBe('111122223333/us-east-1 IMDS remediated: i-0123456789abcdef0 cluster "prod"');
    expect(attributes).toEqual({
      outcome: 'remediated',
      accountId: ACCOUNT,
      region: REGION,
      cluster: 'prod',
      instanceId: INSTANCE_ID,
      actionRequired: 'false',
    });
    expect(report).toMatchObject({
      outcome: 'remediated',
      before: { httpTokens: 'required', hopLimit: 1, httpEndpoint: 'enabled' },
      after: { httpTokens: 'required', hopLimit: 2, httpEndpoint: 'enabled' },
      changes: [{ field: 'HttpPutResponseHopLimit', from: '1', to: '2' }],
      verification: { status: 'verified' },
      imdsv1Guard: { enabled: true, imdsv1Calls: null, tokensHeldBack: false },
    });
    expect(message).toContain('HttpPutResponseHopLimit  1 -> 2');
    expect(message).toContain('HttpTokens               required (unchanged)');
    expect(message).toContain('Verification: verified');
  });

  it('enforces tokens when the guard finds no IMDSv1 calls, reading MetadataNoToken over the lookback', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ httpTokens: 'optional', hopLimit: 2 }));
    cloudwatchMock.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Sum: 0, Timestamp: new Date(START) }] });
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);

    expect(result.outcome).toBe('remediated');
    expect(cloudwatchMock).toHaveReceivedCommandWith(GetMetricStatisticsCommand, {
      Namespace: 'AWS/EC2',
      MetricName: 'MetadataNoToken',
      Dimensions: [{ Name: 'InstanceId', Value: INSTANCE_ID }],
      Statistics: ['Sum'],
      Period: 24 * 3600,
      StartTime: new Date(START - 24 * 3_600_000),
      EndTime: new Date(START),
    });
    expect(ec2.modifications[0]).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    expect(onlyPublished().message).toContain('IMDSv1 guard: no IMDSv1 calls in the last 24 h');
  });

  it('holds tokens back when IMDSv1 is in use, fixes the hop limit and says what to do', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ httpTokens: 'optional', hopLimit: 1 }));
    cloudwatchMock.on(GetMetricStatisticsCommand).resolves({
      Datapoints: [
        { Sum: 30, Timestamp: new Date(START - 3_600_000) },
        { Sum: 7, Timestamp: new Date(START) },
      ],
    });
    const config = enforce({ IMDSV1_LOOKBACK_HOURS: '48' });
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness({ config }).deps);

    expect(result).toMatchObject({ outcome: 'partially-remediated', modified: true, verified: true });
    // HttpTokens is left out (EC2 keeps it): the role may never send "optional".
    expect(ec2.modifications).toEqual([{ InstanceId: INSTANCE_ID, HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' }]);
    const { report, message, attributes } = onlyPublished();
    expect(attributes).toMatchObject({ outcome: 'partially-remediated', actionRequired: 'true' });
    expect(report.imdsv1Guard).toEqual({ enabled: true, lookbackHours: 48, imdsv1Calls: 37, tokensHeldBack: true });
    expect(report.actionsRequired).toEqual([
      '37 IMDSv1 calls in the last 48 h - migrate those clients to IMDSv2, then enforce HttpTokens=required.',
    ]);
    expect(message).toContain('HttpTokens               optional (unchanged)');
    expect(message).toContain('37 IMDSv1 calls in the last 48 h - migrate those clients');
  });

  it('enforces tokens without reading CloudWatch when the guard is off', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ httpTokens: 'optional', hopLimit: 2 }));
    const config = enforce({ IMDSV1_GUARD: 'false' });
    await remediateEvent(aComplianceChangeEvent(), aHarness({ config }).deps);
    expect(cloudwatchMock.calls()).toHaveLength(0);
    expect(ec2.modifications[0]).toMatchObject({ HttpTokens: 'required' });
    expect(onlyPublished().message).toContain('IMDSv1 guard: off');
  });

  it('holds tokens back and changes nothing when nothing else is wrong', async () => {
    fakeEc2(ec2Mock, anEksNode({ httpTokens: 'optional', hopLimit: 2 }));
    cloudwatchMock.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Sum: 1 }] });
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'manual-action-required', modified: false });
    expect(ec2Mock).not.toHaveReceivedCommand(ModifyInstanceMetadataOptionsCommand);
    expect(onlyPublished().report.actionsRequired[0]).toMatch(/^1 IMDSv1 call in the last 24 h/);
  });

  it.each([
    ['lowers a hop limit above MaxHopLimit to the maximum', { hopLimit: 5 }, '{"MaxHopLimit":"3"}', 3],
    ['raises to MinHopLimit', { hopLimit: 1 }, '{"MinHopLimit":"3"}', 3],
    ['sets a missing hop limit to the minimum', { hopLimit: undefined }, '{}', 2],
  ])('%s', async (_name, shape, parameters, sent) => {
    const ec2 = fakeEc2(ec2Mock, anEksNode(shape));
    await remediateEvent(aComplianceChangeEvent(), aHarness({ config: enforce({ RULE_PARAMETERS: parameters }) }).deps);
    expect(ec2.modifications[0]?.HttpPutResponseHopLimit).toBe(sent);
  });

  it('keeps a deliberate hop limit of 3 while fixing the endpoint', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ hopLimit: 3, httpEndpoint: 'disabled' }));
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(ec2.modifications[0]).toMatchObject({ HttpPutResponseHopLimit: 3, HttpEndpoint: 'enabled' });
    expect(onlyPublished().report.changes).toEqual([{ field: 'HttpEndpoint', from: 'disabled', to: 'enabled' }]);
  });

  it('leaves a disabled endpoint disabled when RequireHttpEndpoint is false, by not sending it', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ hopLimit: 1, httpEndpoint: 'disabled' }));
    const config = enforce({ RULE_PARAMETERS: '{"RequireHttpEndpoint":"false"}' });
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness({ config }).deps);
    expect(ec2.modifications).toEqual([{ InstanceId: INSTANCE_ID, HttpTokens: 'required', HttpPutResponseHopLimit: 2 }]);
    expect(result).toMatchObject({ outcome: 'remediated', verified: true });
  });

  it('cannot attach an instance profile: reports the action, modifies nothing', async () => {
    fakeEc2(ec2Mock, anEksNode({ hopLimit: 2, instanceProfile: false }));
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'manual-action-required', modified: false });
    expect(realModifications()).toHaveLength(0);
    const { report, attributes, message } = onlyPublished();
    expect(attributes.actionRequired).toBe('true');
    expect(report.actionsRequired).toEqual([expect.stringMatching(/^Attach an instance profile/)]);
    expect(message).toContain('Action required:\n  - Attach an instance profile');
  });

  it('fixes the metadata and asks for the instance profile: partially remediated', async () => {
    fakeEc2(ec2Mock, anEksNode({ hopLimit: 1, instanceProfile: false }));
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(result).toMatchObject({ outcome: 'partially-remediated', modified: true });
  });
});

describe('verification', () => {
  it('polls with exponential backoff until State is applied', async () => {
    fakeEc2(ec2Mock, anEksNode(), { readsUntilApplied: 4 });
    const harness = aHarness();
    const result = await remediateEvent(aComplianceChangeEvent(), harness.deps);
    expect(result.verified).toBe(true);
    expect(harness.sleeps).toEqual([250, 500, 1000, 2000]);
    // The read that decides, the one that confirms the claim, four while waiting.
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeInstancesCommand, 6);
    expect(onlyPublished().report.verification).toMatchObject({ status: 'verified', waitedMs: 3750 });
  });

  it("starts each verification about as late as this environment's last change took to apply", async () => {
    const estimate = { ms: undefined as number | undefined };
    const run = async (readsUntilApplied: number) => {
      resetMocks();
      fakeEc2(ec2Mock, anEksNode(), { readsUntilApplied });
      const harness = aHarness();
      const result = await remediateEvent(aComplianceChangeEvent(), { ...harness.deps, applyEstimate: estimate });
      expect(result.verified).toBe(true);
      return harness.sleeps;
    };
    // Nothing learnt yet: 250 ms doubling; applied on the third read, 1.75 s after the change.
    expect(await run(3)).toEqual([250, 500, 1000]);
    expect(estimate.ms).toBe(1750);
    // One read where there were three; applied already, so the next looks a fifth earlier.
    expect(await run(1)).toEqual([1750]);
    expect(estimate.ms).toBe(1400);
    // Too early: doubling from there, and the next starts as late as this one took.
    expect(await run(2)).toEqual([1400, 2800]);
    expect(estimate.ms).toBe(4200);
    // Never longer than the longest wait between reads.
    expect(await run(1)).toEqual([4000]);
  });

  it('gives up within the time the invocation has left and reports not verified', async () => {
    fakeEc2(ec2Mock, anEksNode(), { readsUntilApplied: 1_000 });
    // 30 s left, 10 s kept for the notification: at most 20 s of waiting.
    const harness = aHarness({ remainingMs: 30_000 });
    const result = await remediateEvent(aComplianceChangeEvent(), harness.deps);
    expect(result).toMatchObject({ outcome: 'remediated', verified: false, published: true });
    expect(harness.sleeps).toEqual([250, 500, 1000, 2000, 4000, 4000, 4000, 4000]);
    expect(harness.elapsed()).toBeLessThanOrEqual(20_000);
    const { report, message } = onlyPublished();
    expect(report.verification).toMatchObject({ status: 'not-verified', observed: { state: 'pending', hopLimit: 2 } });
    expect(message).toContain('Verification: NOT verified - not applied within 19.8 s (8 read(s); last read: State pending)');
    expect(report.headline).toContain('not verified yet');
  });

  it('never waits past maxWaitMs even with a long timeout', async () => {
    fakeEc2(ec2Mock, anEksNode(), { readsUntilApplied: 1_000 });
    const harness = aHarness({ remainingMs: 900_000 });
    await remediateEvent(aComplianceChangeEvent(), harness.deps);
    expect(harness.elapsed()).toBeLessThanOrEqual(60_000);
  });

  it('does not poll when no time is left, and still reports', async () => {
    fakeEc2(ec2Mock, anEksNode());
    const harness = aHarness({ remainingMs: 5_000 });
    const result = await remediateEvent(aComplianceChangeEvent(), harness.deps);
    expect(harness.sleeps).toEqual([]);
    expect(result).toMatchObject({ outcome: 'remediated', verified: false, published: true });
  });

  it('turns a failing read after the change into "not verified", never an error', async () => {
    const fake = fakeEc2(ec2Mock, anEksNode());
    // The read that decides and the one that confirms the claim succeed; every read after the change fails.
    let reads = 0;
    fake.describeFault = () => (++reads > 2 ? awsError('RequestLimitExceeded') : undefined);
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness({ remainingMs: 20_000 }).deps);
    expect(result).toMatchObject({ outcome: 'remediated', verified: false, published: true });
    expect(onlyPublished().report.verification?.detail).toContain('no successful read');
  });
});

describe('launch template drift', () => {
  it('names the launch template, version and managed node group', async () => {
    fakeEc2(ec2Mock, anEksNode());
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    const { report, message } = onlyPublished();
    expect(report.drift).toMatchObject({ launchTemplateId: 'lt-0a1b2c3d4e5f67890', launchTemplateVersion: '3', nodeGroup: 'general' });
    expect(message).toContain('Launch template drift: replacement nodes will come back with the old settings.');
    expect(message).toContain(
      'Fix: create a new version of launch template lt-0a1b2c3d4e5f67890 version 3 with the metadata options and update managed node group "general" of cluster "prod" to it.',
    );
  });

  it('points Karpenter nodes at the EC2NodeClass, not the generated launch template', async () => {
    fakeEc2(ec2Mock, anEksNode({ tags: karpenterNodeTags('prod', 'batch') }));
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    const { report } = onlyPublished();
    expect(report.drift?.fix).toBe(
      'set spec.metadataOptions in Karpenter EC2NodeClass "default" of node pool "batch" (launch template lt-0fedcba9876543210 version 1 is generated by Karpenter: do not edit it)',
    );
    expect(report.nodeKind).toBe('karpenter');
  });

  it('says nothing about drift for a node without a launch template, node group or node pool', async () => {
    fakeEc2(ec2Mock, anEksNode({ tags: { 'kubernetes.io/cluster/prod': 'owned' } }));
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(onlyPublished().report.drift).toBeNull();
    expect(onlyPublished().message).not.toContain('Launch template drift');
  });

  it('warns in notify mode too', async () => {
    fakeEc2(ec2Mock, anEksNode());
    await remediateEvent(aComplianceChangeEvent(), aHarness({ config: notify() }).deps);
    expect(onlyPublished().report.drift?.launchTemplateId).toBe('lt-0a1b2c3d4e5f67890');
  });
});

describe('notify mode', () => {
  it('checks permission with DryRun, reports what would change, modifies nothing', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ httpTokens: 'optional', hopLimit: 1 }));
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness({ config: notify() }).deps);

    expect(result).toMatchObject({ outcome: 'would-remediate', reason: 'dry-run-permitted', modified: false, verified: undefined });
    expect(ec2.modifications).toEqual([]);
    expect(ec2Mock).toHaveReceivedCommandExactlyOnceWith(ModifyInstanceMetadataOptionsCommand, {
      InstanceId: INSTANCE_ID,
      HttpTokens: 'required',
      HttpPutResponseHopLimit: 2,
      HttpEndpoint: 'enabled',
      DryRun: true,
    });
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    const { subject, attributes, message } = onlyPublished();
    expect(subject).toBe('111122223333/us-east-1 IMDS would remediate: i-0123456789abcdef0 cluster "prod"');
    expect(attributes.outcome).toBe('would-remediate');
    expect(message).toContain('HttpTokens               optional -> required');
    expect(message).toContain('2 field(s) would change');
  });

  it('is the default mode', async () => {
    fakeEc2(ec2Mock, anEksNode());
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness({ config: aConfig() }).deps);
    expect(result.outcome).toBe('would-remediate');
    expect(realModifications()).toHaveLength(0);
  });

  it('reports failed with the permission to grant when DryRun says UnauthorizedOperation', async () => {
    fakeEc2(ec2Mock, anEksNode());
    ec2Mock.on(ModifyInstanceMetadataOptionsCommand).rejects(awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.'));
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness({ config: notify() }).deps);
    expect(result).toMatchObject({ outcome: 'failed', reason: 'UnauthorizedOperation' });
    const { report, attributes } = onlyPublished();
    expect(attributes).toMatchObject({ outcome: 'failed', actionRequired: 'true' });
    expect(report.error).toEqual({
      operation: 'ModifyInstanceMetadataOptions (DryRun)',
      code: 'UnauthorizedOperation',
      message: 'You are not authorized to perform this operation.',
    });
    expect(report.actionsRequired[0]).toContain("Grant the function's role permission for ModifyInstanceMetadataOptions");
  });
});

describe('failure semantics', () => {
  it.each(['UnauthorizedOperation', 'InvalidInstanceID.NotFound', 'IncorrectInstanceState'])(
    'a permanent %s from ModifyInstanceMetadataOptions is reported as failed and returned, not thrown',
    async (code) => {
      fakeEc2(ec2Mock, anEksNode());
      ec2Mock.on(ModifyInstanceMetadataOptionsCommand).rejects(awsError(code));
      const result = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
      expect(result).toMatchObject({ outcome: 'failed', reason: code, modified: false, published: true });
      const { report, subject, message } = onlyPublished();
      expect(report.error).toMatchObject({ operation: 'ModifyInstanceMetadataOptions', code });
      expect(subject).toMatch(/^111122223333\/us-east-1 IMDS FAILED: i-0123456789abcdef0/);
      expect(message).toContain(`Error: ModifyInstanceMetadataOptions failed with ${code}`);
      expect(message).toContain('  not applied');
    },
  );

  it('reports failed when the re-read itself is not permitted', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('UnauthorizedOperation'));
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(result).toMatchObject({ outcome: 'failed', reason: 'UnauthorizedOperation' });
    expect(onlyPublished().report.error?.operation).toBe('DescribeInstances');
  });

  it('reports failed, and leaves tokens alone, when the guard may not read CloudWatch', async () => {
    fakeEc2(ec2Mock, anEksNode({ httpTokens: 'optional' }));
    cloudwatchMock.on(GetMetricStatisticsCommand).rejects(awsError('AccessDenied'));
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(result).toMatchObject({ outcome: 'failed', reason: 'AccessDenied' });
    expect(ec2Mock).not.toHaveReceivedCommand(ModifyInstanceMetadataOptionsCommand);
  });

  it.each([
    ['DescribeInstances', () => ec2Mock.on(DescribeInstancesCommand).rejects(awsError('RequestLimitExceeded'))],
    ['GetMetricStatistics', () => cloudwatchMock.on(GetMetricStatisticsCommand).rejects(awsError('Throttling'))],
    ['ModifyInstanceMetadataOptions', () => ec2Mock.on(ModifyInstanceMetadataOptionsCommand).rejects(awsError('InternalError'))],
  ])('throws a transient error from %s, publishing nothing, for Lambda to retry', async (_operation, arrange) => {
    fakeEc2(ec2Mock, anEksNode({ httpTokens: 'optional' }));
    arrange();
    await expect(remediateEvent(aComplianceChangeEvent(), aHarness().deps)).rejects.toThrow();
    expect(snsMock.calls()).toHaveLength(0);
  });

  it('throws when the notification cannot be published', async () => {
    fakeEc2(ec2Mock, anEksNode());
    snsMock.on(PublishCommand).rejects(awsError('InternalErrorException'));
    await expect(remediateEvent(aComplianceChangeEvent(), aHarness().deps)).rejects.toBeInstanceOf(NotificationDeliveryError);
  });
});

describe('the ledger tag', () => {
  it('is written unnotified, with the values before and the values to send, before the change, then marked notified', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ httpTokens: 'optional', hopLimit: 1 }));
    cloudwatchMock.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Sum: 0 }] });
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps);

    const order = ec2Mock.calls().map((call) => call.args[0].constructor.name);
    const firstTag = order.indexOf('CreateTagsCommand');
    expect(firstTag).toBeGreaterThan(0);
    expect(firstTag).toBeLessThan(order.indexOf('ModifyInstanceMetadataOptionsCommand'));
    expect(ec2.tagWrites.map((input) => input.Resources)).toEqual([[INSTANCE_ID], [INSTANCE_ID]]);
    const [unnotified, notified] = ec2.tagWrites.map((input) => parseLedger(input.Tags?.[0]?.Value));
    expect(ec2.tagWrites.every((input) => input.Tags?.length === 1 && input.Tags[0]?.Key === LEDGER_TAG_KEY)).toBe(true);
    expect(unnotified).toEqual({
      event: EVENT_ID,
      state: 'unnotified',
      before: { httpTokens: 'optional', hopLimit: 1, httpEndpoint: 'enabled' },
      after: { httpTokens: 'required', hopLimit: 2, httpEndpoint: 'enabled' },
      imdsv1: { calls: 0, lookbackHours: 24 },
      at: new Date(START).toISOString(),
    });
    // Rewritten with the new state and time, the rest kept.
    expect(notified).toEqual({ ...unnotified, state: 'notified', at: expect.stringMatching(/^2026-11-20T09:15:1\d\.\d{3}Z$/) });
    // The tag goes out only after the notification did.
    expect(order.at(-1)).toBe('CreateTagsCommand');
  });

  it('is not written for skips, DryRuns or manual actions', async () => {
    for (const [instance, config] of [
      [anEksNode({ hopLimit: 2 }), enforce()],
      [anEksNode({ tags: { Name: 'bastion' } }), enforce()],
      [anEksNode({ hopLimit: 2, instanceProfile: false }), enforce()],
      [anEksNode(), notify()],
    ] as const) {
      resetMocks();
      fakeEc2(ec2Mock, instance);
      await remediateEvent(aComplianceChangeEvent(), aHarness({ config }).deps);
      expect(ec2Mock).not.toHaveReceivedCommand(CreateTagsCommand);
    }
  });

  it('re-reads the instance asking for EC2 managed instances too (EKS Auto Mode nodes)', async () => {
    fakeEc2(ec2Mock, anEksNode());
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    for (const call of ec2Mock.commandCalls(DescribeInstancesCommand)) {
      expect(call.args[0].input).toEqual({ InstanceIds: [INSTANCE_ID], IncludeManagedResources: true });
    }
  });

  it.each(['UnauthorizedOperation', 'TagLimitExceeded'])(
    'refused for good (%s): reports failed and modifies nothing',
    async (code) => {
      const ec2 = fakeEc2(ec2Mock, anEksNode());
      ec2.tagFault = () => awsError(code);
      const result = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
      expect(result).toMatchObject({ outcome: 'failed', reason: code, modified: false, published: true });
      expect(ec2Mock).not.toHaveReceivedCommand(ModifyInstanceMetadataOptionsCommand);
      const { report, message } = onlyPublished();
      expect(report.error).toMatchObject({ operation: 'CreateTags', code });
      expect(message).toContain('  not applied');
      if (code === 'UnauthorizedOperation') expect(report.actionsRequired[0]).toContain('permission for CreateTags');
    },
  );

  it('failing transiently: throws for Lambda to retry, modifies and publishes nothing', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode());
    ec2.tagFault = () => awsError('RequestLimitExceeded');
    await expect(remediateEvent(aComplianceChangeEvent(), aHarness().deps)).rejects.toThrow('RequestLimitExceeded');
    expect(ec2Mock).not.toHaveReceivedCommand(ModifyInstanceMetadataOptionsCommand);
    expect(snsMock.calls()).toHaveLength(0);
  });

  it('not marked notified: logs a WARN and still succeeds', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode());
    ec2.tagFault = (input) => (input.Tags?.[0]?.Value?.includes('state=notified') ? awsError('RequestLimitExceeded') : undefined);
    const warnings: unknown[][] = [];
    const logger = { ...silentLogger, warn: (...args: unknown[]) => void warnings.push(args) };
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness({ logger }).deps);
    expect(result).toMatchObject({ outcome: 'remediated', modified: true, published: true });
    expect(ec2.ledger()?.state).toBe('unnotified');
    expect(warnings).toEqual([
      [
        'ledger tag not updated to state=notified',
        expect.objectContaining({ error: 'RequestLimitExceeded', consequence: expect.stringContaining('once more') }),
      ],
    ]);
  });
});

describe('idempotency across execution environments', () => {
  it('a retry elsewhere after a fix whose notification failed delivers it once, from the ledger, and does not modify again', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ httpTokens: 'optional', hopLimit: 1 }));
    cloudwatchMock.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Sum: 0 }] });
    snsMock.on(PublishCommand).rejectsOnce(awsError('InternalErrorException')).resolves({ MessageId: 'm-1' });

    const first = await remediateEvent(aComplianceChangeEvent(), aHarness().deps).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(NotificationDeliveryError);
    expect(ec2.modifications).toHaveLength(1);
    expect(ec2.ledger()?.state).toBe('unnotified');

    // Lambda's async retry, in another execution environment: fresh dependencies, nothing in memory.
    const retry = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(retry).toMatchObject({ outcome: 'remediated', reason: 'applied', modified: false, published: true, redelivered: true, verified: true });
    expect(ec2Mock).toHaveReceivedCommandTimes(ModifyInstanceMetadataOptionsCommand, 1);
    // The guard's finding comes from the ledger: CloudWatch was read once, by the first attempt.
    expect(cloudwatchMock).toHaveReceivedCommandTimes(GetMetricStatisticsCommand, 1);
    const [lost, delivered] = publishedMessages();
    expect(delivered?.report).toMatchObject({
      outcome: 'remediated',
      before: lost?.report.before,
      after: lost?.report.after,
      changes: lost?.report.changes,
      imdsv1Guard: lost?.report.imdsv1Guard,
      drift: lost?.report.drift,
      verification: { status: 'verified', observed: { state: 'applied', httpTokens: 'required', hopLimit: 2 } },
    });
    expect(delivered?.report.before).toEqual({ httpTokens: 'optional', hopLimit: 1, httpEndpoint: 'enabled' });
    expect(delivered?.report.headline).toContain('notification re-sent');
    expect(delivered?.subject).toBe(lost?.subject);
    expect(ec2.ledger()?.state).toBe('notified');

    // A later duplicate, in a third environment: nothing published, nothing modified.
    const duplicate = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(duplicate).toMatchObject({ outcome: 'skipped', reason: 'duplicate', modified: false, published: false });
    expect(publishedMessages()).toHaveLength(2);
    expect(ec2.modifications).toHaveLength(1);
  });

  it('keeps the ledger unnotified when the re-send fails too, so the next retry tries again', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode());
    snsMock.on(PublishCommand).rejects(awsError('InternalErrorException'));
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps).catch(() => undefined);
    await expect(remediateEvent(aComplianceChangeEvent(), aHarness().deps)).rejects.toBeInstanceOf(NotificationDeliveryError);
    expect(ec2.ledger()?.state).toBe('unnotified');
    snsMock.on(PublishCommand).resolves({});
    expect(await remediateEvent(aComplianceChangeEvent(), aHarness().deps)).toMatchObject({ redelivered: true, modified: false });
    expect(realModifications()).toHaveLength(1);
    expect(ec2.ledger()?.state).toBe('notified');
  });

  it('a duplicate after a delivered notification publishes nothing and modifies nothing', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode());
    const first = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    const second = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(first).toMatchObject({ outcome: 'remediated', modified: true, published: true });
    expect(second).toMatchObject({ outcome: 'skipped', reason: 'duplicate', modified: false, published: false });
    expect(ec2.modifications).toHaveLength(1);
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
  });

  it('a duplicate after a delivered notification does not modify again even when the node was set back since', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode());
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    ec2.setMetadata({ HttpPutResponseHopLimit: 1, State: 'applied' });
    const duplicate = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(duplicate).toMatchObject({ reason: 'duplicate', modified: false, published: false });
    expect(ec2.modifications).toHaveLength(1);
    // The new non-compliance comes with its own event, which is handled.
    const next = await remediateEvent(aComplianceChangeEvent({ id: 'a7e1c2d3-0000-4000-8000-000000000002' }), aHarness().deps);
    expect(next).toMatchObject({ outcome: 'remediated', modified: true });
    expect(ec2.ledger()?.event).toBe('a7e1c2d3-0000-4000-8000-000000000002');
  });

  it('a duplicate right after the change, while EC2 still says pending, does not modify again', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode(), { readsUntilApplied: 1_000 });
    await remediateEvent(aComplianceChangeEvent(), aHarness({ remainingMs: 12_000 }).deps);
    const second = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(second.reason).toBe('duplicate');
    expect(ec2.modifications).toHaveLength(1);
  });

  it('a re-sent notification says "not verified" when the change is still pending', async () => {
    fakeEc2(ec2Mock, anEksNode(), { readsUntilApplied: 1_000 });
    snsMock.on(PublishCommand).rejectsOnce(awsError('InternalErrorException')).resolves({});
    await remediateEvent(aComplianceChangeEvent(), aHarness({ remainingMs: 12_000 }).deps).catch(() => undefined);
    const retry = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(retry).toMatchObject({ outcome: 'remediated', redelivered: true, verified: false });
    expect(publishedMessages()[1]?.report.verification).toMatchObject({ status: 'not-verified', observed: { state: 'pending', hopLimit: 2 } });
  });

  it('a re-sent partial fix keeps the IMDSv1 guard\'s advice, without reading CloudWatch again', async () => {
    fakeEc2(ec2Mock, anEksNode({ httpTokens: 'optional', hopLimit: 1 }));
    cloudwatchMock.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Sum: 37 }] });
    snsMock.on(PublishCommand).rejectsOnce(awsError('InternalErrorException')).resolves({});
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps).catch(() => undefined);
    const retry = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);

    expect(retry).toMatchObject({ outcome: 'partially-remediated', reason: 'applied-partially', redelivered: true, modified: false });
    expect(realModifications()).toHaveLength(1);
    expect(cloudwatchMock).toHaveReceivedCommandTimes(GetMetricStatisticsCommand, 1);
    const [lost, delivered] = publishedMessages();
    expect(delivered?.report.actionsRequired).toEqual(lost?.report.actionsRequired);
    expect(delivered?.report.actionsRequired).toEqual([expect.stringMatching(/^37 IMDSv1 calls in the last 24 h/)]);
    expect(delivered?.report.imdsv1Guard).toEqual({ enabled: true, lookbackHours: 24, imdsv1Calls: 37, tokensHeldBack: true });
    expect(delivered?.report.changes).toEqual([{ field: 'HttpPutResponseHopLimit', from: '1', to: '2' }]);
  });

  it('a retry after a transient error from the change itself re-reports a change that landed, without modifying', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode());
    ec2.modifyFault = () => ({ error: awsError('InternalError'), landed: true });
    await expect(remediateEvent(aComplianceChangeEvent(), aHarness().deps)).rejects.toThrow('InternalError');
    expect(snsMock.calls()).toHaveLength(0);
    expect(ec2.ledger()?.state).toBe('unnotified');
    ec2.modifyFault = undefined;

    const retry = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(retry).toMatchObject({ outcome: 'remediated', redelivered: true, modified: false });
    expect(ec2.modifications).toHaveLength(1);
    expect(onlyPublished().report.changes).toEqual([{ field: 'HttpPutResponseHopLimit', from: '1', to: '2' }]);
  });

  it('a retry after a transient error from the change itself acts again when the change did not land, and rewrites the ledger', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode());
    ec2.modifyFault = () => ({ error: awsError('InternalError'), landed: false });
    await expect(remediateEvent(aComplianceChangeEvent(), aHarness().deps)).rejects.toThrow('InternalError');
    ec2.modifyFault = undefined;

    const retry = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(retry).toMatchObject({ outcome: 'remediated', redelivered: false, modified: true });
    expect(ec2.modifications).toHaveLength(1);
    expect(ec2.tagWrites.map((input) => parseLedger(input.Tags?.[0]?.Value)?.state)).toEqual(['unnotified', 'unnotified', 'notified']);
    expect(onlyPublished().report.verification?.status).toBe('verified');
  });

  it('after the change was refused for good, the ledger says failed: a later delivery does not claim a fix someone else made', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode());
    ec2.modifyFault = () => ({ error: awsError('UnauthorizedOperation'), landed: false });
    const first = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(first).toMatchObject({ outcome: 'failed', reason: 'UnauthorizedOperation', modified: false });
    expect(ec2.ledger()?.state).toBe('failed');

    // Fixed by hand, as the failed notification asks; then EventBridge delivers the event again.
    ec2.setMetadata({ HttpPutResponseHopLimit: 2, State: 'applied' });
    const duplicate = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(duplicate).toMatchObject({ outcome: 'skipped', reason: 'already-compliant', published: false });
    expect(publishedMessages()).toHaveLength(1);
  });

  it('after the change was refused for good, a replay of the event tries again once it is allowed', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode());
    ec2.modifyFault = () => ({ error: awsError('UnauthorizedOperation'), landed: false });
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    ec2.modifyFault = undefined;
    const replay = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(replay).toMatchObject({ outcome: 'remediated', modified: true });
    expect(ec2.ledger()?.state).toBe('notified');
  });

  it('a ledger of another event is not this event\'s: decided from the instance as before', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ hopLimit: 2 }));
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(ec2.ledger()).toBeUndefined();
    ec2.current()?.Tags?.push({
      Key: LEDGER_TAG_KEY,
      Value: `v1 event=0f0f0f0f-0000-4000-8000-000000000009 state=unnotified before=required/1/enabled after=required/2/enabled imdsv1=- at=2026-11-19T10:00:00.000Z`,
    });
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'already-compliant', published: false });
  });

  it.each(['garbage', 'v2 event=c0bb891c-77fe-8518-14fc-be78b966f95b state=notified', ''])(
    'an unreadable ledger value (%j) counts as no ledger',
    async (value) => {
      const node = anEksNode();
      node.Tags?.push({ Key: LEDGER_TAG_KEY, Value: value });
      const ec2 = fakeEc2(ec2Mock, node);
      const result = await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
      expect(result).toMatchObject({ outcome: 'remediated', modified: true });
      expect(ec2.ledger()?.state).toBe('notified');
    },
  );

  it('gives FIFO topics a message group and the same deduplication id on every attempt, re-sends included', async () => {
    fakeEc2(ec2Mock, anEksNode());
    const config = enforce({ TOPIC_ARN: `${TOPIC_ARN}.fifo` });
    snsMock.on(PublishCommand).rejectsOnce(awsError('InternalErrorException')).resolves({});
    await remediateEvent(aComplianceChangeEvent(), aHarness({ config }).deps).catch(() => undefined);
    await remediateEvent(aComplianceChangeEvent(), aHarness({ config }).deps);
    const [a, b] = publishedMessages();
    expect(a?.input.MessageGroupId).toBe(INSTANCE_ID);
    expect(a?.input.MessageDeduplicationId).toMatch(/^[0-9a-f]{64}$/);
    expect(b?.input.MessageDeduplicationId).toBe(a?.input.MessageDeduplicationId);
  });

  it('standard topics get no FIFO fields', async () => {
    fakeEc2(ec2Mock, anEksNode());
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(onlyPublished().input).not.toHaveProperty('MessageGroupId');
    expect(onlyPublished().input).not.toHaveProperty('MessageDeduplicationId');
  });
});

describe('notification format', () => {
  it('keeps the subject ASCII, on one line and under 100 characters for any cluster name', async () => {
    const cluster = 'a-very-long-cluster-name-that-goes-on-and-on-for-the-platform-team-of-the-payments-division-eu';
    fakeEc2(ec2Mock, anEksNode({ tags: managedNodeTags(cluster) }));
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    const { subject, attributes } = onlyPublished();
    expect(subject.length).toBeLessThanOrEqual(MAX_SUBJECT_LENGTH);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
    // The tag value is cut inside its quotes: the account, region and instance come first, whole.
    expect(subject).toBe('111122223333/us-east-1 IMDS remediated: i-0123456789abcdef0 cluster "a-very-long-clust..."');
    expect(attributes.cluster).toBe(cluster);
  });

  it('ends every message with a JSON block carrying the same details', async () => {
    fakeEc2(ec2Mock, anEksNode({ httpTokens: 'optional' }));
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    const { report, attributes } = onlyPublished();
    expect(report).toMatchObject({
      outcome: attributes.outcome,
      accountId: attributes.accountId,
      region: attributes.region,
      cluster: attributes.cluster,
      instanceId: attributes.instanceId,
      eventId: EVENT_ID,
      configRuleName: 'eks-imds-guard',
      mode: 'enforce',
      generatedAt: new Date(START).toISOString(),
    });
  });

  it('labels the cluster "unknown" when there is none (SNS refuses empty attributes)', async () => {
    fakeEc2(ec2Mock, undefined);
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    expect(onlyPublished().attributes.cluster).toBe('unknown');
  });
});

describe('the report on EventBridge', () => {
  it('puts the same report on the default bus, as source eks-imds-guard, for a central bus to receive', async () => {
    fakeEc2(ec2Mock, anEksNode({ hopLimit: 1 }));
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps);

    const calls = eventsMock.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(1);
    const [entry, ...more] = calls[0]!.args[0].input.Entries ?? [];
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ Source: REPORT_EVENT.source, DetailType: REPORT_EVENT.detailType });
    // No EventBusName: the account's default bus, where the member stack's rule forwards it.
    expect(entry?.EventBusName).toBeUndefined();
    expect(JSON.parse(entry!.Detail!)).toEqual(onlyPublished().report);
  });

  it('reports over EventBridge only when no topic is configured', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ hopLimit: 1 }));
    const config = enforce({ TOPIC_ARN: '' });
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness({ config }).deps);

    expect(result).toMatchObject({ outcome: 'remediated', published: true });
    expect(ec2.modifications).toHaveLength(1);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
    const detail = JSON.parse(eventsMock.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries![0]!.Detail!);
    expect(detail).toMatchObject({ outcome: 'remediated', instanceId: INSTANCE_ID, accountId: ACCOUNT, region: REGION });
  });

  it('fails the invocation when EventBridge refuses the entry, so the retry sends it again', async () => {
    fakeEc2(ec2Mock, anEksNode({ hopLimit: 1 }));
    eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }] });
    const attempt = remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    await expect(attempt).rejects.toBeInstanceOf(NotificationDeliveryError);
    await expect(attempt).rejects.toThrow(/PutEvents refused the report: InternalFailure try again/);
  });
});
