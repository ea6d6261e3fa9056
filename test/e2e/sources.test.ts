import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSourcesFleet, startEmulator, type Emulator, type SourceMember } from '../../emulator/index.ts';
import { lambdaContext, scheduledInvocation } from '../../emulator/invocations.ts';
import { sourceChangeInvocation } from '../../emulator/source-invocations.ts';

/** The sources rule's real handler over HTTP against the emulator: sweep, change, cleanup. */
type Handler = typeof import('../../functions/evaluate-sources/handler.ts').handler;

const RULE = 'eks-imds-guard-sources';
let emulator: Emulator;
let handler: Handler;
let fleet: SourceMember[];

beforeAll(async () => {
  emulator = await startEmulator();
  Object.assign(process.env, emulator.clientEnv(), { ACCOUNT_ID: emulator.accountId });
  ({ handler } = await import('../../functions/evaluate-sources/handler.ts'));
  fleet = seedSourcesFleet(emulator);
});

afterAll(async () => {
  await emulator?.close();
});

const results = () => new Map(emulator.evaluations(RULE).map((e) => [e.resourceId, e]));

describe('the sources rule, end to end', () => {
  it('reports the account, every node group and node template, and nothing else', async () => {
    emulator.resetCalls();
    const summary = await handler(scheduledInvocation(emulator, { ruleName: RULE }), lambdaContext(emulator, 'evaluate-sources'));
    const reported = results();
    for (const member of fleet) {
      const result = reported.get(member.resourceId);
      if (member.expected === 'filtered') expect(result, member.name).toBeUndefined();
      else expect(result?.complianceType, `${member.name}: ${result?.annotation}`).toBe(member.expected);
    }
    expect(summary.swept).toBe(fleet.filter((m) => m.expected !== 'filtered').length);
    // One bulk page per launched-version kind, not one call per template or group.
    expect(emulator.calls.get('ec2:DescribeLaunchTemplateVersions')).toBe(2);
    expect(emulator.calls.get('ec2:GetInstanceMetadataDefaults')).toBe(1);
    // Templates are listed once; the groups find theirs among them.
    expect(emulator.calls.get('ec2:DescribeLaunchTemplates')).toBe(1);
  });

  it('says where each value comes from and who fixes it', () => {
    const reported = results();
    const annotation = (name: string) => reported.get(fleet.find((m) => m.name.startsWith(name))?.resourceId ?? '')?.annotation ?? '';
    expect(annotation('account')).toContain('Fix: aws ec2 modify-instance-metadata-defaults --http-tokens required --http-put-response-hop-limit 2');
    expect(annotation('managed node group')).toContain('aws eks update-nodegroup-version --cluster-name prod --nodegroup-name al2023-general');
    expect(annotation('Karpenter')).toContain('spec: {metadataOptions: {httpTokens: required, httpPutResponseHopLimit: 2}}');
    expect(annotation('eksctl group legacy')).toContain('HttpTokens optional (EC2 default), HopLimit 1 (EC2 default). Fix: move to a launch template with HttpTokens=required,HttpPutResponseHopLimit=2');
    expect(annotation('prod-system')).toContain('HttpTokens not set: AMI required applies');
  });

  it('re-judges a group on its change notification, reading the version it now launches', async () => {
    const group = fleet.find((m) => m.name.startsWith('self-managed'))?.resourceId ?? '';
    const template = emulator.autoscaling.get(group)?.launchTemplate?.launchTemplateId ?? '';
    emulator.launchTemplates.addVersion(template, { metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2 } });
    const event = sourceChangeInvocation(emulator, { ruleName: RULE, resourceType: 'AWS::AutoScaling::AutoScalingGroup', resourceId: group });
    await handler(event, lambdaContext(emulator, 'evaluate-sources'));
    expect(results().get(group)?.complianceType).toBe('COMPLIANT');
  });

  it('retires results of sources that are gone on the next sweep, and writes only what changed', async () => {
    const gone = fleet.find((m) => m.name.startsWith('eksctl group legacy'))?.resourceId ?? '';
    emulator.autoscaling.remove(gone);
    emulator.setAccountMetadataDefaults({ httpTokens: 'required', httpPutResponseHopLimit: 2 });
    const later = new Date(Date.now() + 3_600_000);
    const summary = await handler(scheduledInvocation(emulator, { ruleName: RULE, at: later }), lambdaContext(emulator, 'evaluate-sources'));
    const reported = results();
    expect(reported.get(gone)).toMatchObject({ complianceType: 'NOT_APPLICABLE' });
    expect(reported.get(emulator.accountId)?.complianceType).toBe('COMPLIANT');
    expect(summary.cleanedUp).toBe(1);
    // The account changed, and with it what templates that leave options out resolve to; the rest is as Config holds it.
    expect(summary.unchanged).toBeGreaterThan(0);
  });
});
