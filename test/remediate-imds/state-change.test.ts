import { ModifyInstanceMetadataOptionsCommand } from '@aws-sdk/client-ec2';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { beforeEach, describe, expect, it } from 'vitest';
import { remediateEvent } from '../../functions/remediate-imds/remediator.ts';
import { MAX_RELOOKS, RELOOK_DELAY_SECONDS, RELOOK_FIELD } from '../../functions/remediate-imds/trigger.ts';
import { InvalidEventError } from '../../functions/shared/errors.ts';
import {
  aComplianceChangeEvent,
  aConfig,
  anEksNode,
  aStateChangeEvent,
  autoModeNodeTags,
  awsError,
  fakeEc2,
  INSTANCE_ID,
  LAUNCH_EVENT_ID,
  managedNodeTags,
  QUEUE_URL,
} from './builders.ts';
import { aHarness, cloudwatchMock, ec2Mock, onlyPublished, resetMocks, snsMock, sqsMock } from './harness.ts';

beforeEach(resetMocks);

const enforce = (env: Record<string, string> = {}) => aConfig({ REMEDIATION_MODE: 'enforce', REMEDIATION_QUEUE_URL: QUEUE_URL, ...env });

function realModifications() {
  return ec2Mock.commandCalls(ModifyInstanceMetadataOptionsCommand).filter((call) => !call.args[0].input.DryRun);
}

function relooks() {
  return sqsMock.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
}

describe('the state-change event is validated and must be ours', () => {
  it.each([
    ['another state', { state: 'pending' }, 'detail.state: must be running'],
    ['no instance id', { instanceId: 'not-an-instance' }, 'detail.instance-id: must be an EC2 instance id'],
    ['another account', { account: '444455556666' }, "account 444455556666 is not this function's account 111122223333"],
    ['another region', { region: 'eu-west-1' }, "region eu-west-1 is not this function's region us-east-1"],
    ['a time that is no timestamp', { time: 'yesterday' }, 'time: must be an ISO-8601 timestamp'],
  ])('refuses %s before any AWS call', async (_name, shape, message) => {
    const error = await remediateEvent(aStateChangeEvent(shape), aHarness({ config: enforce() }).deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as Error).message).toContain(message);
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(snsMock.calls()).toHaveLength(0);
  });

  it.each([
    ['an attempt past the bound', { attempt: MAX_RELOOKS + 1 }, `${RELOOK_FIELD}.attempt: must be at most ${MAX_RELOOKS}`],
    ['no attempt', {}, `${RELOOK_FIELD}.attempt`],
  ])('refuses a re-look with %s', async (_name, relook, message) => {
    const event = { ...aStateChangeEvent(), [RELOOK_FIELD]: relook };
    const error = await remediateEvent(event, aHarness({ config: enforce() }).deps).catch((e: unknown) => e);
    expect((error as Error).message).toContain(message);
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  it('needs no rule name: any launch in this account and region is looked at', async () => {
    fakeEc2(ec2Mock, anEksNode({ hopLimit: 2 }));
    const config = enforce({ CONFIG_RULE_NAME: 'a-rule-the-event-cannot-name' });
    const result = await remediateEvent(aStateChangeEvent(), aHarness({ config }).deps);
    expect(result).toMatchObject({ path: 'state-change', outcome: 'skipped', reason: 'already-compliant' });
  });
});

describe('a launched node with hop limit 1', () => {
  it('is fixed, verified and reported as a launch, with the seconds from the event to the verified fix', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ hopLimit: 1 }));
    const result = await remediateEvent(aStateChangeEvent(), aHarness({ config: enforce() }).deps);
    // Event at 09:15:08, invoked at 09:15:10, verified on the first read 250 ms later.
    expect(result).toMatchObject({ path: 'state-change', outcome: 'remediated', modified: true, verified: true, secondsToVerifiedFix: 2.25 });
    expect(ec2.current()?.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    expect(ec2.ledger()).toMatchObject({ event: LAUNCH_EVENT_ID, state: 'notified' });
    const { report, message } = onlyPublished();
    expect(report).toMatchObject({ path: 'state-change', eventId: LAUNCH_EVENT_ID, configRuleName: 'eks-imds-guard' });
    expect(message).toContain(`event: ${LAUNCH_EVENT_ID} (EC2 launch)`);
    expect(relooks()).toEqual([]);
  });

  it('is reported as would-remediate in notify mode, with nothing modified or tagged', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ hopLimit: 1 }));
    const result = await remediateEvent(aStateChangeEvent(), aHarness({ config: enforce({ REMEDIATION_MODE: 'notify' }) }).deps);
    expect(result).toMatchObject({ outcome: 'would-remediate', modified: false, secondsToVerifiedFix: undefined });
    expect(realModifications()).toHaveLength(0);
    expect(ec2.tagWrites).toHaveLength(0);
    expect(onlyPublished().attributes.outcome).toBe('would-remediate');
  });

  it('still reports what only a person can fix (no instance profile)', async () => {
    fakeEc2(ec2Mock, anEksNode({ hopLimit: 2, instanceProfile: false }));
    const config = enforce({ RULE_PARAMETERS: '{"RequireInstanceProfile":"true"}' });
    const result = await remediateEvent(aStateChangeEvent(), aHarness({ config }).deps);
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'manual-action-required', published: true });
  });
});

describe('no noise: skips on the launch path publish nothing', () => {
  it.each([
    ['an out-of-scope cluster', anEksNode(), { RULE_PARAMETERS: '{"ClusterNames":"staging"}' }, 'cluster-not-selected'],
    ['an exempt node', anEksNode({ tags: { ...managedNodeTags(), 'imds-guard/exempt': 'until=2026-12-31;reason=OPS-1234' } }), {}, 'exempt'],
    ['an Auto Mode node', anEksNode({ tags: autoModeNodeTags(), operator: { managed: true, principal: 'eks.amazonaws.com' } }), {}, 'auto-mode'],
    ['an already compliant node', anEksNode({ hopLimit: 2 }), {}, 'already-compliant'],
    ['an instance terminated since', anEksNode({ state: 'terminated' }), {}, 'instance-gone'],
    ['an instance no longer there', undefined, {}, 'instance-gone'],
  ])('%s: skipped silently, nothing modified, tagged or read from CloudWatch', async (_name, instance, env, reason) => {
    const ec2 = fakeEc2(ec2Mock, instance);
    const result = await remediateEvent(aStateChangeEvent(), aHarness({ config: enforce(env) }).deps);
    expect(result).toMatchObject({ path: 'state-change', outcome: 'skipped', reason, published: false, modified: false });
    expect(snsMock.calls()).toHaveLength(0);
    expect(realModifications()).toHaveLength(0);
    expect(ec2.tagWrites).toHaveLength(0);
    expect(cloudwatchMock.calls()).toHaveLength(0);
    expect(relooks()).toEqual([]);
  });

  it('an instance that never gets a node tag: looked at MAX_RELOOKS times, then dropped quietly', async () => {
    fakeEc2(ec2Mock, anEksNode({ tags: { Name: 'bastion' } }));
    let event: unknown = aStateChangeEvent();
    const reasons: string[] = [];
    for (let attempt = 0; attempt <= MAX_RELOOKS; attempt++) {
      const result = await remediateEvent(event, aHarness({ config: enforce() }).deps);
      reasons.push(result.reason);
      const sent = relooks()[attempt];
      // The record handler hands the body on as it is: the next invocation gets exactly this.
      if (sent !== undefined) event = JSON.parse(sent.MessageBody ?? '');
    }
    expect(reasons).toEqual(['relook-scheduled', 'relook-scheduled', 'relook-scheduled', 'relooks-exhausted']);
    expect(relooks().map((input) => [input.QueueUrl, input.DelaySeconds, JSON.parse(input.MessageBody ?? '')[RELOOK_FIELD]])).toEqual([
      [QUEUE_URL, RELOOK_DELAY_SECONDS, { attempt: 1 }],
      [QUEUE_URL, RELOOK_DELAY_SECONDS, { attempt: 2 }],
      [QUEUE_URL, RELOOK_DELAY_SECONDS, { attempt: 3 }],
    ]);
    expect(snsMock.calls()).toHaveLength(0);
    expect(realModifications()).toHaveLength(0);
  });
});

describe('tags that lag the launch', () => {
  it('a node tagged after the first look is fixed on the re-look, under the launch event', async () => {
    const ec2 = fakeEc2(ec2Mock, anEksNode({ hopLimit: 1, tags: { Name: 'ip-10-0-12-34' } }));
    const first = await remediateEvent(aStateChangeEvent(), aHarness({ config: enforce() }).deps);
    expect(first).toMatchObject({ outcome: 'skipped', reason: 'relook-scheduled', published: false });
    const [sent] = relooks();
    expect(sent?.MessageBody).toBeDefined();

    // The node group's tags land within the delay.
    ec2Mock.reset();
    const tagged = fakeEc2(ec2Mock, { ...(ec2.current() ?? anEksNode()), Tags: Object.entries(managedNodeTags()).map(([Key, Value]) => ({ Key, Value })) });
    const second = await remediateEvent(JSON.parse(sent?.MessageBody ?? ''), aHarness({ config: enforce() }).deps);
    expect(second).toMatchObject({ path: 'state-change', outcome: 'remediated', modified: true });
    expect(tagged.ledger()).toMatchObject({ event: LAUNCH_EVENT_ID, state: 'notified' });
    expect(onlyPublished().report.eventId).toBe(LAUNCH_EVENT_ID);
  });

  it('a re-look that cannot be sent fails the record, so the queue delivers the event again', async () => {
    fakeEc2(ec2Mock, anEksNode({ tags: {} }));
    sqsMock.on(SendMessageCommand).rejects(awsError('ServiceUnavailable'));
    const error = await remediateEvent(aStateChangeEvent(), aHarness({ config: enforce() }).deps).catch((e: unknown) => e);
    expect((error as Error).name).toBe('ServiceUnavailable');
    expect(snsMock.calls()).toHaveLength(0);
  });
});

describe('the Config path keeps its reported skips', () => {
  it('still reports an exempt node found by a compliance change', async () => {
    fakeEc2(ec2Mock, anEksNode({ tags: { ...managedNodeTags(), 'imds-guard/exempt': 'until=2026-12-31;reason=OPS-1234' } }));
    const result = await remediateEvent(aComplianceChangeEvent(), aHarness({ config: enforce() }).deps);
    expect(result).toMatchObject({ path: 'config', outcome: 'skipped', reason: 'exempt', published: true });
    expect(onlyPublished().report).toMatchObject({ path: 'config', instanceId: INSTANCE_ID });
  });
});
