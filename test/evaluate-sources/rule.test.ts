import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeLaunchConfigurationsCommand } from '@aws-sdk/client-auto-scaling';
import { ConfigServiceClient, GetComplianceDetailsByConfigRuleCommand, PutEvaluationsCommand, type Evaluation } from '@aws-sdk/client-config-service';
import {
  DescribeImagesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  GetInstanceMetadataDefaultsCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createSourcesRule } from '../../functions/evaluate-sources/rule.ts';
import { evaluateRuleEvent } from '../../functions/shared/config-rule/evaluator.ts';
import { ACCOUNT_ID, aScheduledEvent } from '../builders/config-item.ts';
import { aLaunchTemplateItem, anAutoScalingGroupItem, aSourceChangeEvent, managedNodeGroupTags } from '../builders/sources.ts';

const ec2 = mockClient(EC2Client);
const autoscaling = mockClient(AutoScalingClient);
const config = mockClient(ConfigServiceClient);
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const rule = () => createSourcesRule({ ec2: new EC2Client({}), autoscaling: new AutoScalingClient({}), logger: silent, accountId: ACCOUNT_ID });

const template = { LaunchTemplateId: 'lt-0abc1234def567890', LaunchTemplateName: 'eks-a4c9b2f1', DefaultVersionNumber: 1, LatestVersionNumber: 3, Tags: [] };
const versionData = (version: number, MetadataOptions: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  LaunchTemplateId: template.LaunchTemplateId,
  VersionNumber: version,
  LaunchTemplateData: { MetadataOptions, ...extra },
});

beforeEach(() => {
  ec2.reset();
  autoscaling.reset();
  config.reset();
  config.on(PutEvaluationsCommand).resolves({ FailedEvaluations: [] });
  config.on(GetComplianceDetailsByConfigRuleCommand).resolves({ EvaluationResults: [] });
  ec2.on(GetInstanceMetadataDefaultsCommand).resolves({ AccountLevel: { HttpPutResponseHopLimit: 1 } });
  ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [template] });
});

function evaluations(): Evaluation[] {
  return config.commandCalls(PutEvaluationsCommand).flatMap((call) => call.args[0].input.Evaluations ?? []);
}

describe('change notifications', () => {
  it('judges the version a group pins, read from EC2, with the account default filling the gap', async () => {
    ec2.on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: template.LaunchTemplateId, Versions: ['3'] }).resolves({
      LaunchTemplateVersions: [versionData(3, { HttpTokens: 'required' })],
    });
    const summary = await evaluateRuleEvent(aSourceChangeEvent(anAutoScalingGroupItem()), rule(), { config: new ConfigServiceClient({}) });
    expect(summary.counts.NON_COMPLIANT).toBe(1);
    const [evaluation] = evaluations();
    expect(evaluation).toMatchObject({ ComplianceResourceType: 'AWS::AutoScaling::AutoScalingGroup', ComplianceType: 'NON_COMPLIANT' });
    expect(evaluation?.Annotation).toBe(
      'cluster "prod": EKS node group "ng-general" launches lt-0abc1234def567890 v3: HopLimit 1 (account default). ' +
        'Fix: new version, HttpTokens=required,HttpPutResponseHopLimit=2; aws eks update-nodegroup-version --cluster-name prod --nodegroup-name ng-general',
    );
  });

  it('resolves $Latest through the template and uses the AMI when the template names one', async () => {
    ec2.on(GetInstanceMetadataDefaultsCommand).resolves({ AccountLevel: {} });
    ec2.on(DescribeLaunchTemplateVersionsCommand, { Versions: ['3'] }).resolves({
      LaunchTemplateVersions: [versionData(3, {}, { ImageId: 'ami-0123456789abcdef0' })],
    });
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-0123456789abcdef0', ImdsSupport: 'v2.0' }] });
    const event = aSourceChangeEvent(anAutoScalingGroupItem({ launchTemplate: { version: '$Latest' }, tags: { 'kubernetes.io/cluster/prod': 'owned' } }));
    await evaluateRuleEvent(event, rule(), { config: new ConfigServiceClient({}) });
    expect(evaluations()[0]).toMatchObject({ ComplianceType: 'COMPLIANT' });
    expect(evaluations()[0]?.Annotation).toContain('v3 ($Latest)');
  });

  it('reads nothing for a group that is not an EKS node group', async () => {
    await evaluateRuleEvent(aSourceChangeEvent(anAutoScalingGroupItem({ tags: { app: 'web' } })), rule(), { config: new ConfigServiceClient({}) });
    expect(evaluations()[0]).toMatchObject({ ComplianceType: 'NOT_APPLICABLE' });
    expect(ec2).not.toHaveReceivedCommand(DescribeLaunchTemplateVersionsCommand);
  });

  it('judges a launch template item by the version its launcher uses, not the item data', async () => {
    ec2.on(DescribeLaunchTemplateVersionsCommand, { Versions: ['2'] }).resolves({
      LaunchTemplateVersions: [versionData(2, { HttpTokens: 'optional', HttpPutResponseHopLimit: 2 })],
    });
    const item = aLaunchTemplateItem({ defaultVersion: 2, latestVersion: 2 });
    await evaluateRuleEvent(aSourceChangeEvent(item), rule(), { config: new ConfigServiceClient({}) });
    expect(evaluations()[0]).toMatchObject({ ComplianceResourceType: 'AWS::EC2::LaunchTemplate', ComplianceType: 'NON_COMPLIANT' });
    expect(evaluations()[0]?.Annotation).toContain('HttpTokens optional (want required)');
  });

  it('judges a launch configuration group', async () => {
    autoscaling.on(DescribeLaunchConfigurationsCommand).resolves({
      LaunchConfigurations: [
        { LaunchConfigurationName: 'old-lc', ImageId: 'resolve:ssm:/aws/service/eks', InstanceType: 'm5.large', CreatedTime: new Date(), MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 } },
      ],
    });
    await evaluateRuleEvent(aSourceChangeEvent(anAutoScalingGroupItem({ launchConfigurationName: 'old-lc' })), rule(), { config: new ConfigServiceClient({}) });
    expect(evaluations()[0]).toMatchObject({ ComplianceType: 'COMPLIANT' });
    expect(ec2).not.toHaveReceivedCommand(DescribeImagesCommand);
  });
});

describe('oversized notifications: the source is read as it is now', () => {
  const oversized = (resourceType: string, resourceId: string) => ({
    ...aScheduledEvent(),
    invokingEvent: JSON.stringify({
      configurationItemSummary: {
        changeType: 'UPDATE',
        configurationItemVersion: '1.3',
        configurationItemCaptureTime: '2026-11-27T10:15:30.123Z',
        configurationStateId: 1732702530123,
        awsAccountId: ACCOUNT_ID,
        configurationItemStatus: 'OK',
        resourceType,
        resourceId,
        awsRegion: 'us-east-1',
      },
      notificationCreationTime: '2026-11-27T10:15:31.000Z',
      messageType: 'OversizedConfigurationItemChangeNotification',
      recordVersion: '1.0',
    }),
  });

  it('reads a group with DescribeAutoScalingGroups, including a mixed instances policy', async () => {
    autoscaling.on(DescribeAutoScalingGroupsCommand, { AutoScalingGroupNames: ['mixed'] }).resolves({
      AutoScalingGroups: [
        {
          AutoScalingGroupName: 'mixed',
          MixedInstancesPolicy: {
            LaunchTemplate: {
              LaunchTemplateSpecification: { LaunchTemplateId: template.LaunchTemplateId, Version: '$Latest' },
              Overrides: [{ InstanceType: 'm7g.large' }, { InstanceType: 'c7g.large', LaunchTemplateSpecification: { LaunchTemplateId: template.LaunchTemplateId, Version: '2' } }],
            },
          },
          Tags: [{ Key: 'kubernetes.io/cluster/prod', Value: 'owned' }],
          MinSize: 1,
          MaxSize: 3,
          DesiredCapacity: 1,
          DefaultCooldown: 300,
          AvailabilityZones: [],
          HealthCheckType: 'EC2',
          CreatedTime: new Date(),
        },
      ],
    });
    ec2.on(DescribeLaunchTemplateVersionsCommand, { Versions: ['3'] }).resolves({ LaunchTemplateVersions: [versionData(3, { HttpTokens: 'required', HttpPutResponseHopLimit: 2 })] });
    ec2.on(DescribeLaunchTemplateVersionsCommand, { Versions: ['2'] }).resolves({ LaunchTemplateVersions: [versionData(2, { HttpTokens: 'optional', HttpPutResponseHopLimit: 2 })] });
    await evaluateRuleEvent(oversized('AWS::AutoScaling::AutoScalingGroup', 'mixed'), rule(), { config: new ConfigServiceClient({}) });
    // The override's own template version fails, though the policy's template passes.
    expect(evaluations()[0]).toMatchObject({ ComplianceResourceId: 'mixed', ComplianceType: 'NON_COMPLIANT' });
    expect(evaluations()[0]?.Annotation).toContain('launches lt-0abc1234def567890 v2: HttpTokens optional');
  });

  it('reports a group or template that no longer exists as NOT_APPLICABLE', async () => {
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    ec2.on(DescribeLaunchTemplatesCommand).rejects(Object.assign(new Error('gone'), { name: 'InvalidLaunchTemplateId.NotFound' }));
    await evaluateRuleEvent(oversized('AWS::AutoScaling::AutoScalingGroup', 'gone'), rule(), { config: new ConfigServiceClient({}) });
    await evaluateRuleEvent(oversized('AWS::EC2::LaunchTemplate', 'lt-0123456789abcdef0'), rule(), { config: new ConfigServiceClient({}) });
    expect(evaluations().map((e) => [e.ComplianceResourceId, e.ComplianceType, e.Annotation])).toEqual([
      ['gone', 'NOT_APPLICABLE', 'group no longer exists'],
      ['lt-0123456789abcdef0', 'NOT_APPLICABLE', 'launch template no longer exists'],
    ]);
  });
});

describe('scheduled sweep', () => {
  it('reports the account once, node groups and node templates, and nothing for the rest', async () => {
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        { AutoScalingGroupName: 'ng', LaunchTemplate: { LaunchTemplateId: template.LaunchTemplateId, Version: '$Default' }, Tags: Object.entries(managedNodeGroupTags()).map(([Key, Value]) => ({ Key, Value })), MinSize: 1, MaxSize: 3, DesiredCapacity: 1, DefaultCooldown: 300, AvailabilityZones: [], HealthCheckType: 'EC2', CreatedTime: new Date() },
        { AutoScalingGroupName: 'web', LaunchTemplate: { LaunchTemplateId: template.LaunchTemplateId }, Tags: [], MinSize: 1, MaxSize: 3, DesiredCapacity: 1, DefaultCooldown: 300, AvailabilityZones: [], HealthCheckType: 'EC2', CreatedTime: new Date() },
      ],
    });
    const karpenter = { LaunchTemplateId: 'lt-0kkkkkkkkkkkkkkkk', LaunchTemplateName: 'karpenter.k8s.aws/123', DefaultVersionNumber: 1, LatestVersionNumber: 1, Tags: [{ Key: 'karpenter.k8s.aws/cluster', Value: 'prod' }, { Key: 'karpenter.k8s.aws/ec2nodeclass', Value: 'default' }] };
    ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [template, karpenter] });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [versionData(1, { HttpTokens: 'required', HttpPutResponseHopLimit: 2 }), { ...versionData(1, { HttpTokens: 'required', HttpPutResponseHopLimit: 1 }), LaunchTemplateId: karpenter.LaunchTemplateId }],
    });
    const summary = await evaluateRuleEvent(aScheduledEvent(), rule(), { config: new ConfigServiceClient({}) });
    const byId = Object.fromEntries(evaluations().map((e) => [e.ComplianceResourceId, e]));
    expect(Object.keys(byId).sort()).toEqual([ACCOUNT_ID, 'lt-0kkkkkkkkkkkkkkkk', 'ng']);
    expect(byId[ACCOUNT_ID]).toMatchObject({ ComplianceResourceType: 'AWS::::Account', ComplianceType: 'NON_COMPLIANT' });
    expect(byId['ng']).toMatchObject({ ComplianceType: 'COMPLIANT' });
    expect(byId['lt-0kkkkkkkkkkkkkkkk']?.Annotation).toContain('spec: {metadataOptions: {httpTokens: required, httpPutResponseHopLimit: 2}}');
    expect(summary.swept).toBe(3);
    // The versions a launcher uses come in two bulk pages ($Default, $Latest), not a call per template.
    expect(ec2.commandCalls(DescribeLaunchTemplateVersionsCommand).map((c) => c.args[0].input.Versions)).toEqual([['$Default'], ['$Latest']]);
  });
});
