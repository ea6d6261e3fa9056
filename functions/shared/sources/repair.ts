import type { RuleParameters } from '../parameters.ts';
import { accountDefaultsTarget, accountFixCommand, managedByDeclarativePolicy } from './account-defaults.ts';
import { groupNode, type AutoScalingGroupFacts, type GroupLaunch } from './auto-scaling-group.ts';
import { describeFixedOptions, type AccountDefaults, type FixedMetadataOptions } from './launch-metadata.ts';
import {
  judgeLaunch,
  karpenterSnippet,
  nodegroupUpdateCommand,
  templateOwner,
  versionLaunchedWithoutGroup,
  type LaunchTemplateInput,
} from './launch-template.ts';
import { quoted } from './source-judgement.ts';

/**
 * What a repair of a source does, decided from what it is and who owns it. The function holds
 * no ec2:RunInstances or iam:PassRole, which Auto Scaling demands of whoever points a group at a
 * launch template: a group pinned to a version number gets the new version and the command to
 * switch to it, never an UpdateAutoScalingGroup. Nothing here starts an instance refresh.
 */
export type RepairAction =
  | {
      readonly kind: 'create-version';
      readonly launchTemplateId: string;
      readonly sourceVersion: number;
      /** The version the new one will have (latest + 1), for the texts. */
      readonly newVersion: number;
      readonly options: FixedMetadataOptions;
      /** Make the new version the default (the launch uses `$Default`). */
      readonly setDefault: boolean;
    }
  | { readonly kind: 'modify-account-defaults'; readonly target: ReturnType<typeof accountDefaultsTarget> };

export interface RepairPlan {
  readonly actions: readonly RepairAction[];
  /** What only a person can do, as exact instructions. */
  readonly actionsRequired: readonly string[];
}

/** A self-managed or eksctl group: each customer template it launches gets a fixed version. */
export function planGroupRepair(
  group: AutoScalingGroupFacts,
  launches: readonly GroupLaunch[],
  account: AccountDefaults,
  params: RuleParameters,
): RepairPlan {
  const node = groupNode(group, params);
  const actions: RepairAction[] = [];
  const actionsRequired: string[] = [];
  for (const launch of launches) {
    if (launch.kind === 'launch-configuration') {
      if (launch.configuration === undefined) continue;
      const judged = judgeLaunch(launch.configuration.metadata, 'launch configuration', account, launch.ami, params);
      if (!judged.compliant) {
        actionsRequired.push(
          `launch configuration ${launch.configuration.name} cannot change: move group ${group.name} to a launch template with MetadataOptions ${describeFixedOptions(judged.fixed)}`,
        );
      }
      continue;
    }
    const { template, version } = launch;
    if (template === undefined || version === undefined) continue;
    const judged = judgeLaunch(version.metadata, 'launch template', account, launch.ami, params);
    if (judged.compliant) continue;
    const owner = templateOwner(template);
    if (node?.kind === 'managed-node-group' || owner.kind === 'eks-managed-node-group') {
      // EKS owns the template the group launches; only EKS may roll the node group to a new one.
      actionsRequired.push(
        `create a version of the node group's launch template with MetadataOptions ${describeFixedOptions(judged.fixed)}, then ${nodegroupUpdateCommand(node?.cluster, node?.group)}`,
      );
      continue;
    }
    if (owner.kind === 'karpenter') {
      actionsRequired.push(`set the EC2NodeClass ${quoted(owner.nodeClass)} ${karpenterSnippet(judged.fixed)}`);
      continue;
    }
    const requested = launch.ref.version ?? '$Default';
    const newVersion = template.latestVersion + 1 + actions.filter((a) => a.kind === 'create-version' && a.launchTemplateId === template.launchTemplateId).length;
    actions.push({
      kind: 'create-version',
      launchTemplateId: template.launchTemplateId,
      sourceVersion: version.versionNumber,
      newVersion,
      options: judged.fixed,
      setDefault: requested === '$Default',
    });
    if (requested !== '$Latest' && requested !== '$Default') {
      actionsRequired.push(
        `point the group at the new version: aws autoscaling update-auto-scaling-group --auto-scaling-group-name ${group.name} --launch-template LaunchTemplateId=${template.launchTemplateId},Version=${newVersion}`,
      );
    }
  }
  return { actions, actionsRequired };
}

/** A template nodes launch from without a group: a customer's is fixed; EKS's and Karpenter's are changed at their source. */
export function planTemplateRepair(input: LaunchTemplateInput, params: RuleParameters): RepairPlan {
  const { template, version } = input;
  if (version === undefined) return { actions: [], actionsRequired: [] };
  const judged = judgeLaunch(version.metadata, 'launch template', input.account, input.ami, params);
  if (judged.compliant) return { actions: [], actionsRequired: [] };
  const owner = templateOwner(template);
  switch (owner.kind) {
    case 'karpenter':
      return { actions: [], actionsRequired: [`set the EC2NodeClass ${quoted(owner.nodeClass)} ${karpenterSnippet(judged.fixed)}`] };
    case 'eks-managed-node-group':
      return {
        actions: [],
        actionsRequired: [
          `EKS owns this template: create a version of the node group's launch template with MetadataOptions ${describeFixedOptions(judged.fixed)}, then ${nodegroupUpdateCommand(owner.cluster, owner.nodeGroup)}`,
        ],
      };
    case 'customer':
      return {
        actions: [
          {
            kind: 'create-version',
            launchTemplateId: template.launchTemplateId,
            sourceVersion: version.versionNumber,
            newVersion: template.latestVersion + 1,
            options: judged.fixed,
            setDefault: versionLaunchedWithoutGroup(template) === '$Default',
          },
        ],
        actionsRequired: [],
      };
  }
}

/** The account defaults: changed in `enforce` only, never when a declarative policy manages them. */
export function planAccountRepair(defaults: AccountDefaults, params: RuleParameters): RepairPlan {
  if (managedByDeclarativePolicy(defaults)) {
    return {
      actions: [],
      actionsRequired: [
        `the account's IMDS defaults are managed by a declarative policy${defaults.managedExceptionMessage ? ` (${defaults.managedExceptionMessage})` : ''}: change the organization's policy to ${accountFixCommand(defaults, params).replace('aws ec2 modify-instance-metadata-defaults ', '')}`,
      ],
    };
  }
  return { actions: [{ kind: 'modify-account-defaults', target: accountDefaultsTarget(defaults, params) }], actionsRequired: [] };
}
