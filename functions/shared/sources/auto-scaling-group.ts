import { fit } from '../annotation.ts';
import { identifyEksNode, scopeExclusion, type EksNode } from '../eks-node.ts';
import type { RuleParameters } from '../parameters.ts';
import { describeFixedOptions, type AccountDefaults, type AmiFacts, type DeclaredMetadata, type FixedMetadataOptions } from './launch-metadata.ts';
import {
  createVersionCommand,
  judgeLaunch,
  nodegroupUpdateCommand,
  templateOwner,
  type LaunchJudgement,
  type LaunchTemplateFacts,
  type LaunchTemplateVersionFacts,
} from './launch-template.ts';
import { annotateFailure, AUTO_SCALING_GROUP, clusterPrefix, commandName, exemptionSuffix, withLast, quoted, sourceExemption, type SourceJudgement } from './source-judgement.ts';

/** A launch template as a group names it: by id or name, with a version text (number, `$Latest`, `$Default`). */
export interface LaunchTemplateRef {
  readonly launchTemplateId: string | undefined;
  readonly launchTemplateName: string | undefined;
  readonly version: string | undefined;
}

export interface AutoScalingGroupFacts {
  readonly name: string;
  readonly tags: Readonly<Record<string, string>>;
  /** The group's launch template, or its mixed instances policy's, then any per-override templates. */
  readonly launchTemplates: readonly LaunchTemplateRef[];
  readonly launchConfigurationName: string | undefined;
}

export interface LaunchConfigurationFacts {
  readonly name: string;
  readonly metadata: DeclaredMetadata;
  readonly imageId: string | undefined;
}

/** What the group launches, read from EC2 / Auto Scaling: each template as resolved, or the launch configuration. */
export type GroupLaunch =
  | {
      readonly kind: 'launch-template';
      readonly ref: LaunchTemplateRef;
      readonly template: LaunchTemplateFacts | undefined;
      readonly version: LaunchTemplateVersionFacts | undefined;
      readonly ami: AmiFacts | undefined;
    }
  | { readonly kind: 'launch-configuration'; readonly configuration: LaunchConfigurationFacts | undefined; readonly ami: AmiFacts | undefined };

/** A group is an EKS node group when its tags match NodeTagKeys (managed node groups, eksctl, self-managed). */
export function groupNode(group: Pick<AutoScalingGroupFacts, 'tags'>, params: RuleParameters): EksNode | undefined {
  return identifyEksNode(group.tags, undefined, params.nodeTagKeys);
}

/**
 * An EKS node group, judged by what it actually launches: the launch template version it
 * resolves to (a number, `$Latest` or `$Default`, also inside a mixed instances policy) or its
 * launch configuration, with options left out resolved as EC2 would.
 */
export function judgeAutoScalingGroup(
  group: AutoScalingGroupFacts,
  launches: readonly GroupLaunch[],
  account: AccountDefaults,
  params: RuleParameters,
  evaluatedAt: Date = new Date(),
): SourceJudgement {
  const base = { resourceType: AUTO_SCALING_GROUP, resourceId: group.name };
  const node = groupNode(group, params);
  const where = clusterPrefix(node?.cluster);
  const notApplicable = (detail: string): SourceJudgement => ({ ...base, compliance: 'NOT_APPLICABLE', annotation: fit(`${where}${detail}`) });

  if (node === undefined) return notApplicable('not an EKS node group (no NodeTagKeys tag)');
  const excluded = scopeExclusion(node, params);
  if (excluded !== undefined) return notApplicable(excluded.detail);
  const exemption = sourceExemption(group.tags, params, evaluatedAt);
  if (launches.length === 0) return notApplicable('the group names no launch template or launch configuration');

  const owner = `${where}${describeGroup(node, group.name)}`;
  const judged: { launch: GroupLaunch; label: string; result: LaunchJudgement | undefined }[] = launches.map((launch) => ({
    launch,
    label: describeLaunch(launch),
    result: judgeGroupLaunch(launch, account, params),
  }));
  const missing = judged.find((j) => j.result === undefined);
  if (missing !== undefined) {
    return { ...base, compliance: 'NON_COMPLIANT', annotation: fit(`${owner} launches ${missing.label}, which does not exist`) };
  }
  const failing = judged.find((j) => j.result !== undefined && !j.result.compliant);
  if (failing === undefined) {
    const summary = judged.map((j) => j.label).join(', ');
    return { ...base, compliance: 'COMPLIANT', annotation: fit(`${owner} launches ${summary}: compliant${exemptionSuffix(exemption, false)}`) };
  }
  const result = failing.result as LaunchJudgement;
  return {
    ...base,
    compliance: 'NON_COMPLIANT',
    annotation: annotateFailure(
      `${owner} launches ${failing.label}`,
      withLast(result.failures, exemptionSuffix(exemption, true)),
      withLast(result.shortFailures, exemptionSuffix(exemption, true)),
      groupFix(node, group.name, failing.launch, result.fixed),
    ),
  };
}

function judgeGroupLaunch(launch: GroupLaunch, account: AccountDefaults, params: RuleParameters): LaunchJudgement | undefined {
  if (launch.kind === 'launch-configuration') {
    return launch.configuration && judgeLaunch(launch.configuration.metadata, 'launch configuration', account, launch.ami, params);
  }
  return launch.version && judgeLaunch(launch.version.metadata, 'launch template', account, launch.ami, params);
}

function describeGroup(node: EksNode, groupName: string): string {
  switch (node.kind) {
    // The group's own name is the evaluation's resource id: the annotation names the node group.
    case 'managed-node-group':
      return `EKS node group ${quoted(node.group)}`;
    case 'eksctl':
      return `eksctl node group ${quoted(node.group)}`;
    default:
      return `ASG ${groupName}`;
  }
}

function describeLaunch(launch: GroupLaunch): string {
  if (launch.kind === 'launch-configuration') return `launch configuration ${launch.configuration?.name ?? '(unknown)'}`;
  const id = launch.template?.launchTemplateId ?? launch.ref.launchTemplateId ?? launch.ref.launchTemplateName ?? '(unknown)';
  const requested = launch.ref.version ?? '$Default';
  const number = launch.version?.versionNumber;
  return number === undefined || requested === String(number) ? `${id} v${requested}` : `${id} v${number} (${requested})`;
}

/**
 * The fix by owner, longest form first: a managed node group moves to a new version through EKS
 * (a rolling replacement the operator starts); a self-managed group gets a new version of its
 * template and, when it pins a number, is pointed at it; a launch configuration cannot change,
 * so the group moves to a template.
 */
export function groupFix(node: EksNode, groupName: string, launch: GroupLaunch, fixed: FixedMetadataOptions): string[] {
  const options = `MetadataOptions ${describeFixedOptions(fixed)}`;
  if (node.kind === 'managed-node-group') {
    return [
      `Fix: new version of your launch template with ${options}, then ${nodegroupUpdateCommand(node.cluster, node.group)}`,
      `Fix: new version, ${describeFixedOptions(fixed)}; aws eks update-nodegroup-version --cluster-name ${commandName(node.cluster, '<cluster>')} --nodegroup-name ${commandName(node.group, '<nodegroup>')}`,
      `Fix: a fixed template version, then aws eks update-nodegroup-version --cluster-name ${commandName(node.cluster, '<cluster>')} --nodegroup-name ${commandName(node.group, '<nodegroup>')}`,
    ];
  }
  if (launch.kind === 'launch-configuration') {
    return [
      `Fix: launch configurations cannot change: move the group to a launch template with ${options}`,
      `Fix: move to a launch template with ${describeFixedOptions(fixed)}`,
    ];
  }
  const template = launch.template as LaunchTemplateFacts;
  if (templateOwner(template).kind !== 'customer') {
    return [`Fix: the template's owner regenerates it: change its source to ${options}`];
  }
  const next = template.latestVersion + 1;
  const source = launch.version?.versionNumber ?? template.latestVersion;
  const requested = launch.ref.version ?? '$Default';
  const then = requested === '$Latest' ? '' : requested === '$Default' ? `, then make v${next} the default` : `, then point ASG ${groupName} at v${next}`;
  return [
    `Fix: ${createVersionCommand(template.launchTemplateId, source, fixed)}${then}`,
    `Fix: new version v${next} of ${template.launchTemplateId} from v${source} with ${options}${then}`,
    `Fix: v${next} of ${template.launchTemplateId} from v${source} with ${describeFixedOptions(fixed)}${requested === '$Latest' ? '' : requested === '$Default' ? ' as default' : ', group set to it'}`,
  ];
}
