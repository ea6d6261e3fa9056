import { fit } from '../annotation.ts';
import { identifyEksNode, scopeExclusion, type EksNode } from '../eks-node.ts';
import type { RuleParameters, TagKeyPattern } from '../parameters.ts';
import {
  checkResolvedMetadata,
  describeCheck,
  describeCheckShort,
  describeFixedOptions,
  fixedMetadataOptions,
  resolveLaunchMetadata,
  type AccountDefaults,
  type AmiFacts,
  type DeclaredMetadata,
  type FixedMetadataOptions,
  type ResolvedCheck,
} from './launch-metadata.ts';
import { annotateFailure, clusterPrefix, commandName, exemptionSuffix, withLast, LAUNCH_TEMPLATE, quoted, sourceExemption, type SourceJudgement } from './source-judgement.ts';

export interface LaunchTemplateFacts {
  readonly launchTemplateId: string;
  readonly launchTemplateName: string;
  /** The template's own tags. */
  readonly tags: Readonly<Record<string, string>>;
  readonly defaultVersion: number;
  readonly latestVersion: number;
}

export interface LaunchTemplateVersionFacts {
  readonly versionNumber: number;
  readonly metadata: DeclaredMetadata;
  readonly imageId: string | undefined;
  /** Tags the version puts on the instances it launches (TagSpecifications of type instance). */
  readonly instanceTags: Readonly<Record<string, string>>;
  /** The remediation names its event here, so a retry recognises its own version. */
  readonly description: string | undefined;
}

/** Karpenter tags every launch template it generates with the cluster and the EC2NodeClass. */
export const KARPENTER_CLUSTER_TAG = 'karpenter.k8s.aws/cluster';
const KARPENTER_NODE_CLASS_TAG = 'karpenter.k8s.aws/ec2nodeclass';
const KARPENTER_PATTERN: TagKeyPattern = { key: KARPENTER_CLUSTER_TAG, prefix: false };

export type TemplateOwner =
  | { readonly kind: 'karpenter'; readonly cluster: string | undefined; readonly nodeClass: string | undefined }
  | { readonly kind: 'eks-managed-node-group'; readonly cluster: string | undefined; readonly nodeGroup: string | undefined }
  | { readonly kind: 'customer' };

/** Templates EKS or Karpenter generate are never edited: their owner regenerates them. */
export function templateOwner(template: Pick<LaunchTemplateFacts, 'tags'>): TemplateOwner {
  const tags = template.tags;
  if (tags[KARPENTER_CLUSTER_TAG] !== undefined) {
    return { kind: 'karpenter', cluster: tags[KARPENTER_CLUSTER_TAG], nodeClass: tags[KARPENTER_NODE_CLASS_TAG] };
  }
  // EKS tags the launch template it creates for a managed node group with the group's name.
  if (tags['eks:nodegroup-name'] !== undefined) {
    return { kind: 'eks-managed-node-group', cluster: tags['eks:cluster-name'], nodeGroup: tags['eks:nodegroup-name'] };
  }
  return { kind: 'customer' };
}

/**
 * The version a launch that names `requested` gets: a number, `$Latest`, `$Default`, or nothing
 * (EC2 then uses the default version). Undefined when the request names no valid version.
 */
export function resolveTemplateVersion(template: LaunchTemplateFacts, requested: string | undefined): number | undefined {
  if (requested === undefined || requested === '' || requested === '$Default') return template.defaultVersion;
  if (requested === '$Latest') return template.latestVersion;
  return /^\d+$/.test(requested) ? Number(requested) : undefined;
}

/**
 * Without a group, the version is the launcher's choice: Karpenter launches `$Latest` (its
 * CreateFleet requests name it); anything else that names no version gets the default one.
 */
export function versionLaunchedWithoutGroup(template: LaunchTemplateFacts): '$Latest' | '$Default' {
  return templateOwner(template).kind === 'karpenter' ? '$Latest' : '$Default';
}

/**
 * A template is an EKS node source when its own tags or the tags it gives instances match
 * NodeTagKeys, or when Karpenter generated it.
 */
export function templateNode(
  template: LaunchTemplateFacts,
  version: LaunchTemplateVersionFacts | undefined,
  params: RuleParameters,
): EksNode | undefined {
  const tags = { ...version?.instanceTags, ...template.tags };
  const node = identifyEksNode(tags, undefined, [...params.nodeTagKeys, KARPENTER_PATTERN]);
  if (node === undefined) return undefined;
  const owner = templateOwner(template);
  if (owner.kind === 'karpenter') return { kind: 'karpenter', cluster: node.cluster ?? owner.cluster, group: owner.nodeClass };
  return node;
}

export interface LaunchJudgement {
  readonly compliant: boolean;
  readonly checks: readonly ResolvedCheck[];
  readonly failures: readonly string[];
  readonly shortFailures: readonly string[];
  readonly fixed: FixedMetadataOptions;
}

/** One launch from a declared set of options, resolved as EC2 would and checked. */
export function judgeLaunch(
  declared: DeclaredMetadata,
  declaredIn: 'launch template' | 'launch configuration',
  account: AccountDefaults,
  ami: AmiFacts | undefined,
  params: RuleParameters,
): LaunchJudgement {
  const resolved = resolveLaunchMetadata(declared, declaredIn, account, ami);
  const checks = checkResolvedMetadata(resolved, params);
  const failing = checks.filter((c) => !c.passed);
  return {
    compliant: failing.length === 0,
    checks,
    failures: failing.map((c) => describeCheck(c, declaredIn)),
    shortFailures: failing.map((c) => describeCheckShort(c, declaredIn)),
    fixed: fixedMetadataOptions(resolved, params),
  };
}

export interface LaunchTemplateInput {
  readonly template: LaunchTemplateFacts;
  /** The version launched (see versionLaunchedWithoutGroup); undefined when it does not exist. */
  readonly version: LaunchTemplateVersionFacts | undefined;
  readonly ami: AmiFacts | undefined;
  readonly account: AccountDefaults;
}

/** A launch template EKS nodes launch from, judged as the version its launcher uses would launch. */
export function judgeLaunchTemplate(input: LaunchTemplateInput, params: RuleParameters, evaluatedAt: Date = new Date()): SourceJudgement {
  const { template, version } = input;
  const base = { resourceType: LAUNCH_TEMPLATE, resourceId: template.launchTemplateId };
  const node = templateNode(template, version, params);
  const where = clusterPrefix(node?.cluster);
  const notApplicable = (detail: string): SourceJudgement => ({ ...base, compliance: 'NOT_APPLICABLE', annotation: fit(`${where}${detail}`) });

  if (node === undefined) return notApplicable('not an EKS node launch template (no NodeTagKeys tag on it or its instances)');
  const excluded = scopeExclusion(node, params);
  if (excluded !== undefined) return notApplicable(excluded.detail);
  const exemption = sourceExemption(template.tags, params, evaluatedAt);

  const launched = versionLaunchedWithoutGroup(template);
  const label = `${template.launchTemplateId} v${version?.versionNumber ?? '?'} (${launched})`;
  if (version === undefined) {
    return { ...base, compliance: 'NON_COMPLIANT', annotation: fit(`${where}${label}: the ${launched} version does not exist`) };
  }
  const launch = judgeLaunch(version.metadata, 'launch template', input.account, input.ami, params);
  const owner = templateOwner(template);
  const ownerText = describeOwner(owner);
  if (launch.compliant) {
    const summary = launch.checks.map((c) => describeCheck(c, 'launch template')).join(', ');
    return { ...base, compliance: 'COMPLIANT', annotation: fit(`${where}${ownerText}${label}: compliant: ${summary}${exemptionSuffix(exemption, false)}`) };
  }
  return {
    ...base,
    compliance: 'NON_COMPLIANT',
    annotation: annotateFailure(
      `${where}${ownerText}${label}`,
      withLast(launch.failures, exemptionSuffix(exemption, true)),
      withLast(launch.shortFailures, exemptionSuffix(exemption, true)),
      templateFix(owner, template, version.versionNumber, launched, launch.fixed),
    ),
  };
}

function describeOwner(owner: TemplateOwner): string {
  switch (owner.kind) {
    case 'karpenter':
      return `Karpenter EC2NodeClass ${quoted(owner.nodeClass)}, `;
    case 'eks-managed-node-group':
      return `EKS managed node group ${quoted(owner.nodeGroup)}, `;
    case 'customer':
      return '';
  }
}

/**
 * The exact fix for a template by owner, longest form first: templates EKS or Karpenter
 * generate are changed at their source.
 */
export function templateFix(
  owner: TemplateOwner,
  template: LaunchTemplateFacts,
  sourceVersion: number,
  launched: string,
  fixed: FixedMetadataOptions,
): string[] {
  switch (owner.kind) {
    case 'karpenter':
      return [`Fix the EC2NodeClass, not this template: ${karpenterSnippet(fixed)}`, `Fix EC2NodeClass: ${karpenterSnippet(fixed)}`];
    case 'eks-managed-node-group':
      return [
        `Owned by EKS, not edited. Fix: ${nodegroupUpdateCommand(owner.cluster, owner.nodeGroup)}`,
        `Owned by EKS, not edited. Fix: new version of your template, then aws eks update-nodegroup-version --cluster-name ${commandName(owner.cluster, '<cluster>')} --nodegroup-name ${commandName(owner.nodeGroup, '<nodegroup>')}`,
        `Owned by EKS. Fix: aws eks update-nodegroup-version --cluster-name ${commandName(owner.cluster, '<cluster>')} --nodegroup-name ${commandName(owner.nodeGroup, '<nodegroup>')}`,
      ];
    case 'customer': {
      const next = template.latestVersion + 1;
      const setDefault = launched === '$Default';
      return [
        `Fix: ${createVersionCommand(template.launchTemplateId, sourceVersion, fixed)}` +
          (setDefault ? `, then aws ec2 modify-launch-template --launch-template-id ${template.launchTemplateId} --default-version ${next}` : ''),
        `Fix: ${createVersionCommand(template.launchTemplateId, sourceVersion, fixed)}${setDefault ? `, then make v${next} the default` : ''}`,
        `Fix: new version v${next} from v${sourceVersion} with MetadataOptions ${describeFixedOptions(fixed)}${setDefault ? ', made the default' : ''}`,
      ];
    }
  }
}

/** `spec.metadataOptions` of a Karpenter EC2NodeClass, as one line of YAML (flow style). */
export function karpenterSnippet(fixed: FixedMetadataOptions): string {
  const endpoint = fixed.HttpEndpoint ? `httpEndpoint: ${fixed.HttpEndpoint}, ` : '';
  return `spec: {metadataOptions: {${endpoint}httpTokens: ${fixed.HttpTokens}, httpPutResponseHopLimit: ${fixed.HttpPutResponseHopLimit}}}`;
}

export function createVersionCommand(launchTemplateId: string, sourceVersion: number, fixed: FixedMetadataOptions): string {
  return (
    `aws ec2 create-launch-template-version --launch-template-id ${launchTemplateId} --source-version ${sourceVersion}` +
    ` --launch-template-data MetadataOptions={${describeFixedOptions(fixed)}}`
  );
}

/** A rolling replacement of a managed node group is the operator's call: the command, never the action. */
export function nodegroupUpdateCommand(cluster: string | undefined, nodeGroup: string | undefined): string {
  return (
    `aws eks update-nodegroup-version --cluster-name ${commandName(cluster, '<cluster>')} --nodegroup-name ${commandName(nodeGroup, '<nodegroup>')}` +
    ` --launch-template name=<template>,version=<new>`
  );
}
