import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSourcesRule } from '../../functions/evaluate-sources/rule.ts';
import { remediateSourceEvent, type SourceRemediatorDeps } from '../../functions/remediate-imds/source-remediator.ts';
import { evaluateRuleEvent } from '../../functions/shared/config-rule/evaluator.ts';
import { InvalidEventError } from '../../functions/shared/errors.ts';
import { parseRuleParameters } from '../../functions/shared/parameters.ts';
import { scheduledInvocation, seedSourcesFleet, startEmulator, type ComplianceChangeEvent, type Emulator, type SourceMember } from '../../emulator/index.ts';
import { clientsFor, destroy, type Clients } from '../emulator/clients.ts';

const RULE = 'eks-imds-guard-sources';
const silent = { debug() {}, info() {}, warn() {}, error() {} };

let emulator: Emulator;
let clients: Clients;
let fleet: SourceMember[];
let topicArn: string;

beforeEach(async () => {
  events.clear();
  emulator = await startEmulator();
  clients = clientsFor(emulator, { maxAttempts: 1 });
  fleet = seedSourcesFleet(emulator);
  topicArn = emulator.createTopic('imds-guard');
});

afterEach(async () => {
  destroy(clients);
  await emulator.close();
});

function deps(mode: 'notify' | 'enforce', raw: Record<string, string> = {}): SourceRemediatorDeps {
  return {
    ec2: clients.ec2,
    autoscaling: clients.autoscaling,
    sns: clients.sns,
    config: { mode, ruleParameters: parseRuleParameters(raw), topicArn, fifoTopic: false, region: emulator.region },
    sourcesRuleName: RULE,
    accountId: emulator.accountId,
    logger: silent,
  };
}

const events = new Map<string, ComplianceChangeEvent>();

/**
 * Sweeps with the real rule and returns the compliance-change event Config emitted for one source
 * (the latest one: a sweep that changes nothing for a source emits nothing new for it).
 */
async function eventFor(name: string): Promise<ComplianceChangeEvent> {
  const rule = createSourcesRule({ ec2: clients.ec2, autoscaling: clients.autoscaling, logger: silent, accountId: emulator.accountId });
  await evaluateRuleEvent(scheduledInvocation(emulator, { ruleName: RULE }), rule, { config: clients.config });
  for (const event of emulator.drainComplianceEvents()) events.set(event.detail.resourceId, event);
  const event = events.get(idOf(name));
  if (event === undefined) throw new Error(`no compliance event for ${name}`);
  return event;
}

function idOf(name: string): string {
  const member = fleet.find((m) => m.name.startsWith(name));
  if (member === undefined) throw new Error(`no fleet member ${name}`);
  return member.resourceId;
}

describe('enforce', () => {
  it('gives a self-managed group on $Latest a fixed version, verifies it, notifies, and its scale-out launches compliant nodes', async () => {
    const event = await eventFor('self-managed');
    const group = idOf('self-managed');
    const templateId = emulator.autoscaling.get(group)?.launchTemplate?.launchTemplateId ?? '';
    const result = await remediateSourceEvent(event, deps('enforce'));
    expect(result).toMatchObject({ outcome: 'remediated', modified: true, verified: true, published: true });
    const template = emulator.launchTemplates.get(templateId);
    expect(template?.versions.at(-1)).toMatchObject({ versionNumber: 2, metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2 } });
    expect(template?.versions.at(-1)?.description).toBe(`imds-guard:remediation event ${event.id}`);
    // Nothing else in the version changed: the source version's profile is kept.
    expect(template?.versions.at(-1)?.iamInstanceProfile).toEqual(template?.versions[0]?.iamInstanceProfile);
    expect(emulator.autoscaling.updates).toEqual([]);

    const [message] = emulator.published(topicArn);
    expect(message?.subject).toBe(`IMDS source remediated: AutoScalingGroup dev-workers ${emulator.accountId}/${emulator.region}`);
    expect(message?.messageAttributes).toMatchObject({ outcome: { stringValue: 'remediated' }, resourceType: { stringValue: 'AWS::AutoScaling::AutoScalingGroup' } });
    expect(message?.message).toContain('No instance refresh was started');

    await clients.autoscaling.send(new (await import('@aws-sdk/client-auto-scaling')).UpdateAutoScalingGroupCommand({ AutoScalingGroupName: group, DesiredCapacity: 2 }));
    const newest = emulator.autoscaling.get(group)?.instanceIds.at(-1) ?? '';
    expect(emulator.getInstance(newest)?.metadataOptions).toMatchObject({ httpTokens: 'required', httpPutResponseHopLimit: 2 });
  });

  it('moves the default version when the launch uses $Default', async () => {
    emulator.addAutoScalingGroup({ name: 'pinned-default', launchTemplate: { launchTemplateId: emulator.addLaunchTemplate({ name: 'bad-default', metadataOptions: { httpTokens: 'optional', httpPutResponseHopLimit: 2 } }) }, tags: { 'kubernetes.io/cluster/dev': 'owned' } });
    fleet.push({ name: 'pinned-default', resourceType: 'AWS::AutoScaling::AutoScalingGroup', resourceId: 'pinned-default', expected: 'NON_COMPLIANT' });
    const result = await remediateSourceEvent(await eventFor('pinned-default'), deps('enforce'));
    expect(result.outcome).toBe('remediated');
    expect(emulator.launchTemplates.get('bad-default')?.defaultVersion).toBe(2);
  });

  it('creates the version for a group pinned to a number, and asks a person to point the group at it', async () => {
    const id = emulator.addLaunchTemplate({ name: 'pinned', metadataOptions: { httpTokens: 'optional', httpPutResponseHopLimit: 2 } });
    emulator.addAutoScalingGroup({ name: 'pinned', launchTemplate: { launchTemplateId: id, version: '1' }, tags: { 'kubernetes.io/cluster/dev': 'owned' } });
    fleet.push({ name: 'pinned', resourceType: 'AWS::AutoScaling::AutoScalingGroup', resourceId: 'pinned', expected: 'NON_COMPLIANT' });
    const result = await remediateSourceEvent(await eventFor('pinned'), deps('enforce'));
    expect(result).toMatchObject({ outcome: 'partially-remediated', modified: true, verified: false });
    expect(emulator.launchTemplates.get(id)?.versions).toHaveLength(2);
    expect(emulator.autoscaling.updates).toEqual([]);
    expect(emulator.published(topicArn)[0]?.message).toContain(
      `aws autoscaling update-auto-scaling-group --auto-scaling-group-name pinned --launch-template LaunchTemplateId=${id},Version=2`,
    );
  });

  it('never edits what EKS or Karpenter own: the notification says what to change', async () => {
    const managed = await remediateSourceEvent(await eventFor('managed node group'), deps('enforce'));
    expect(managed).toMatchObject({ outcome: 'skipped', modified: false, published: true });
    expect(emulator.published(topicArn)[0]?.message).toContain('aws eks update-nodegroup-version --cluster-name prod --nodegroup-name al2023-general');
    const karpenter = await remediateSourceEvent(await eventFor('Karpenter'), deps('enforce'));
    expect(karpenter.outcome).toBe('skipped');
    expect(emulator.published(topicArn)[1]?.message).toContain('spec: {metadataOptions: {httpTokens: required, httpPutResponseHopLimit: 2}}');
    for (const template of emulator.launchTemplates.all()) expect(template.versions, template.name).toHaveLength(1);
  });

  it('sets the account defaults, unless a declarative policy manages them', async () => {
    const event = await eventFor('account');
    expect(await remediateSourceEvent(event, deps('enforce'))).toMatchObject({ outcome: 'remediated', verified: true });
    expect(emulator.launchTemplates.accountDefaults()).toMatchObject({ httpTokens: 'required', httpPutResponseHopLimit: 2 });

    emulator.setAccountMetadataDefaults({ managedBy: 'declarative-policy', managedExceptionMessage: 'IMDS is set by the platform team' });
    const managed = await remediateSourceEvent(await eventFor('account'), deps('enforce'));
    expect(managed).toMatchObject({ outcome: 'skipped', modified: false });
    expect(emulator.published(topicArn).at(-1)?.message).toContain('managed by a declarative policy (IMDS is set by the platform team)');
    expect(emulator.requests.get('ec2:ModifyInstanceMetadataDefaults')).toBe(1);
  });
});

describe('notify', () => {
  it('checks permission with DryRun and changes nothing', async () => {
    const result = await remediateSourceEvent(await eventFor('self-managed'), deps('notify'));
    expect(result).toMatchObject({ outcome: 'would-remediate', modified: false });
    expect(emulator.errors.get('ec2:CreateLaunchTemplateVersion')).toBe(1);
    for (const template of emulator.launchTemplates.all()) expect(template.versions).toHaveLength(1);
    const account = await remediateSourceEvent(await eventFor('account'), deps('notify'));
    expect(account.outcome).toBe('would-remediate');
    expect(emulator.launchTemplates.accountDefaults().httpTokens).toBeUndefined();
  });
});

describe('delivery', () => {
  it('does the work once for a repeated event, and re-sends a notification SNS lost without a second version', async () => {
    const event = await eventFor('self-managed');
    emulator.faults.set('sns:Publish', { unavailableNext: 1 });
    await expect(remediateSourceEvent(event, deps('enforce'))).rejects.toThrow();
    const retried = await remediateSourceEvent(event, deps('enforce'));
    expect(retried).toMatchObject({ outcome: 'remediated', redelivered: true, modified: false, published: true });
    // At least once: the version names the event, not whether its notification went out, so a
    // third delivery says it again (marked redelivered) rather than risk saying nothing.
    const again = await remediateSourceEvent(event, deps('enforce'));
    expect(again).toMatchObject({ outcome: 'remediated', redelivered: true, modified: false });
    const templateId = emulator.autoscaling.get(idOf('self-managed'))?.launchTemplate?.launchTemplateId ?? '';
    expect(emulator.launchTemplates.get(templateId)?.versions).toHaveLength(2);
    // Another event for a source that is already right says nothing.
    const later = { ...event, id: 'a-later-event' };
    expect(await remediateSourceEvent(later, deps('enforce'))).toMatchObject({ outcome: 'skipped', published: false });
  });

  it('refuses events of another rule, account or region before any AWS call', async () => {
    const event = await eventFor('self-managed');
    emulator.resetCalls();
    const other = { ...event, detail: { ...event.detail, configRuleName: 'someone-else' } };
    await expect(remediateSourceEvent(other, deps('enforce'))).rejects.toBeInstanceOf(InvalidEventError);
    const foreign = { ...event, account: '999999999999', detail: { ...event.detail, awsAccountId: '999999999999' } };
    await expect(remediateSourceEvent(foreign, deps('enforce'))).rejects.toThrow(/999999999999 is not this function's account/);
    expect(emulator.requests.total()).toBe(0);
  });
});
