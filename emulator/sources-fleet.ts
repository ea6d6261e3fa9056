import type { Emulator } from './server.ts';

export interface SourceMember {
  /** What the source stands for, as the demo prints it. */
  readonly name: string;
  readonly resourceType: 'AWS::AutoScaling::AutoScalingGroup' | 'AWS::EC2::LaunchTemplate' | 'AWS::::Account';
  readonly resourceId: string;
  /** The sources rule's first result for it; `filtered` when the sweep does not report it at all. */
  readonly expected: 'COMPLIANT' | 'NON_COMPLIANT' | 'NOT_APPLICABLE' | 'filtered';
}

const PROFILE = { arn: 'arn:aws:iam::123456789012:instance-profile/eks-node', id: 'AIPAEXAMPLENODEPROFILE' };

/**
 * What launches the demo's nodes, one of each situation the sources rule meets: the account with
 * no IMDS preference, a managed node group pinned to an EKS-owned template at hop limit 1, a
 * self-managed group on `$Latest` of a customer template with tokens optional, a group on
 * `$Default` whose template is right, a Karpenter template (hop limit 1), an eksctl group on an
 * old launch configuration, an AMI with ImdsSupport v2.0, and two things that are not EKS nodes.
 */
export function seedSourcesFleet(emulator: Emulator): SourceMember[] {
  emulator.setAccountMetadataDefaults({});
  emulator.addImage({ imageId: 'ami-0a2023e0000000002', imdsSupport: 'v2.0' });
  const members: SourceMember[] = [{ name: 'account IMDS defaults (no preference)', resourceType: 'AWS::::Account', resourceId: emulator.accountId, expected: 'NON_COMPLIANT' }];
  const group = (name: string, resourceId: string, expected: SourceMember['expected']) =>
    members.push({ name, resourceType: 'AWS::AutoScaling::AutoScalingGroup', resourceId, expected });
  const template = (name: string, resourceId: string, expected: SourceMember['expected']) =>
    members.push({ name, resourceType: 'AWS::EC2::LaunchTemplate', resourceId, expected });

  const managedTags = { 'eks:cluster-name': 'prod', 'eks:nodegroup-name': 'al2023-general', 'kubernetes.io/cluster/prod': 'owned' };
  const eksOwned = emulator.addLaunchTemplate({
    name: 'eks-4ac9b2f1-5d1e-8f3a-2b6c-0123456789ab',
    tags: managedTags,
    createdBy: 'arn:aws:sts::123456789012:assumed-role/AWSServiceRoleForAmazonEKSNodegroup/EKS',
    iamInstanceProfile: PROFILE,
    metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 1 },
  });
  template('EKS-owned template of the managed node group', eksOwned, 'NON_COMPLIANT');
  group('managed node group al2023-general (pinned v1, hop 1)', emulator.addAutoScalingGroup({
    name: 'eks-al2023-general-4ac9b2f1-5d1e-8f3a-2b6c-0123456789ab',
    launchTemplate: { launchTemplateId: eksOwned, version: '1' },
    desiredCapacity: 1,
    tags: managedTags,
  }), 'NON_COMPLIANT');

  const selfTags = { 'kubernetes.io/cluster/dev': 'owned', Name: 'dev-workers' };
  const selfManaged = emulator.addLaunchTemplate({ name: 'dev-workers', iamInstanceProfile: PROFILE, metadataOptions: { httpTokens: 'optional', httpPutResponseHopLimit: 2 } });
  template('customer template of dev-workers (not tagged as a node template)', selfManaged, 'filtered');
  group('self-managed dev-workers ($Latest, tokens optional)', emulator.addAutoScalingGroup({
    name: 'dev-workers',
    launchTemplate: { launchTemplateId: selfManaged, version: '$Latest' },
    desiredCapacity: 1,
    tags: selfTags,
  }), 'NON_COMPLIANT');

  const goodTags = { 'alpha.eksctl.io/cluster-name': 'prod', 'alpha.eksctl.io/nodegroup-name': 'system', 'kubernetes.io/cluster/prod': 'owned' };
  const good = emulator.addLaunchTemplate({
    name: 'prod-system',
    imageId: 'ami-0a2023e0000000002',
    iamInstanceProfile: PROFILE,
    tagSpecifications: [{ resourceType: 'instance', tags: goodTags }],
  });
  template('prod-system template (AMI ImdsSupport v2.0, nothing set)', good, 'COMPLIANT');
  group('eksctl group system ($Default, AMI v2.0)', emulator.addAutoScalingGroup({
    name: 'eksctl-prod-nodegroup-system',
    launchTemplate: { launchTemplateId: good },
    desiredCapacity: 1,
    tags: goodTags,
  }), 'COMPLIANT');

  const karpenter = emulator.addLaunchTemplate({
    name: 'karpenter.k8s.aws/12345678901234567890',
    tags: { 'karpenter.k8s.aws/cluster': 'prod', 'karpenter.k8s.aws/ec2nodeclass': 'default', 'karpenter.sh/nodepool': 'default' },
    iamInstanceProfile: PROFILE,
    metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 1, httpEndpoint: 'enabled' },
  });
  template('Karpenter template of EC2NodeClass default (hop 1)', karpenter, 'NON_COMPLIANT');

  emulator.addLaunchConfiguration({ name: 'legacy-lc', imageId: 'ami-0123456789abcdef1', iamInstanceProfile: PROFILE });
  group('eksctl group legacy on a launch configuration (nothing set)', emulator.addAutoScalingGroup({
    name: 'eksctl-dev-nodegroup-legacy',
    launchConfigurationName: 'legacy-lc',
    desiredCapacity: 1,
    tags: { 'alpha.eksctl.io/cluster-name': 'dev', 'alpha.eksctl.io/nodegroup-name': 'legacy' },
  }), 'NON_COMPLIANT');

  const web = emulator.addLaunchTemplate({ name: 'web', metadataOptions: { httpTokens: 'optional' } });
  template('non-EKS: web template', web, 'filtered');
  group('non-EKS: web group', emulator.addAutoScalingGroup({ name: 'web', launchTemplate: { launchTemplateId: web }, desiredCapacity: 1, tags: { app: 'web' } }), 'filtered');
  return members;
}
