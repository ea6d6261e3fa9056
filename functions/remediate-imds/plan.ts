import type { Instance, ModifyInstanceMetadataOptionsRequest } from '@aws-sdk/client-ec2';
import type { EksNode } from '../shared/eks-node.ts';
import { describeExemption, NO_EXEMPTION, type Exemption } from '../shared/exemption.ts';
import { factsFromEc2Instance, type InstanceFacts } from '../shared/instance.ts';
import { judgeInstance, type Judgement } from '../shared/judge.ts';
import type { RuleParameters } from '../shared/parameters.ts';
import { quoteValue } from '../shared/sanitize.ts';

/**
 * The pure half of remediation: given the instance as EC2 describes it now, the parameters
 * and what the IMDSv1 guard found, decide whether to act and exactly what to send.
 */

export type SkipReason =
  | 'instance-gone'
  | 'not-eks-node'
  | 'cluster-not-selected'
  | 'exempt'
  | 'auto-mode'
  | 'already-compliant'
  | 'manual-action-required';

export type JudgedNode = Extract<Judgement, { compliance: 'COMPLIANT' | 'NON_COMPLIANT' }>;

export type Assessment =
  | {
      readonly kind: 'skip';
      readonly reason: SkipReason;
      readonly detail: string;
      /** Duplicates and late deliveries (already compliant) publish nothing; every other skip is reported. */
      readonly publish: boolean;
      readonly facts: InstanceFacts | undefined;
      readonly node: EksNode | undefined;
      readonly exemption: Exemption;
    }
  | {
      readonly kind: 'act';
      readonly facts: InstanceFacts;
      /** NON_COMPLIANT (the union member's compliance field is not narrowed by the shared type). */
      readonly judgement: JudgedNode;
      /** Tokens are not required yet: the IMDSv1 guard has to look before they are enforced. */
      readonly enforcesTokens: boolean;
    };

/**
 * Decides from the re-read instance (never the event's snapshot) whether remediation applies;
 * `now` is when, for an exemption's expiry.
 */
export function assessInstance(instance: Instance | undefined, instanceId: string, params: RuleParameters, now: Date): Assessment {
  if (instance === undefined) {
    return {
      kind: 'skip',
      reason: 'instance-gone',
      detail: 'instance no longer exists',
      publish: true,
      facts: undefined,
      node: undefined,
      exemption: NO_EXEMPTION,
    };
  }
  // The event's instance id, not whatever the response carries: only that instance is ever touched.
  const facts: InstanceFacts = { ...factsFromEc2Instance(instance), instanceId };
  const judgement = judgeInstance(facts, params, now);
  if (judgement.compliance === 'NOT_APPLICABLE') {
    return { kind: 'skip', reason: judgement.reason, detail: judgement.detail, publish: true, facts, node: judgement.node, exemption: NO_EXEMPTION };
  }
  const { exemption } = judgement;
  if (judgement.compliance === 'COMPLIANT') {
    // Someone (an earlier delivery of this event, another tool, a person) already fixed it.
    const pending = judgement.pending ? ' (change pending)' : '';
    return {
      kind: 'skip',
      reason: 'already-compliant',
      detail: `already compliant${pending}: duplicate or late delivery`,
      publish: false,
      facts,
      node: judgement.node,
      exemption,
    };
  }
  if (judgement.node.kind === 'auto-mode') {
    return {
      kind: 'skip',
      reason: 'auto-mode',
      detail: 'EKS Auto Mode node: EC2 managed instance operated by EKS, reported but never modified',
      publish: true,
      facts,
      node: judgement.node,
      exemption,
    };
  }
  if (exemption.status === 'active') {
    return {
      kind: 'skip',
      reason: 'exempt',
      detail: `${describeExemption(exemption)}: not modified (the node stays NON_COMPLIANT in AWS Config)`,
      publish: true,
      facts,
      node: judgement.node,
      exemption,
    };
  }
  return { kind: 'act', facts, judgement, enforcesTokens: facts.metadata.httpTokens !== 'required' };
}

export interface MetadataValues {
  readonly httpTokens: string | undefined;
  readonly hopLimit: number | undefined;
  readonly httpEndpoint: string | undefined;
}

export interface FieldChange {
  readonly field: 'HttpTokens' | 'HttpPutResponseHopLimit' | 'HttpEndpoint';
  readonly from: string;
  readonly to: string;
}

/** What the IMDSv1 guard read from CloudWatch `AWS/EC2` `MetadataNoToken`. */
export interface Imdsv1Finding {
  readonly lookbackHours: number;
  readonly calls: number;
}

export interface ChangePlan {
  readonly before: MetadataValues;
  readonly after: MetadataValues;
  /** Only the fields whose value changes; empty means there is nothing this function can send. */
  readonly changes: readonly FieldChange[];
  /** The fields the rule sets; every other one keeps its value. DryRun is added by the caller. */
  readonly request: ModifyInstanceMetadataOptionsRequest & { InstanceId: string };
  /** The guard saw IMDSv1 traffic, so HttpTokens is left as it is. */
  readonly tokensHeldBack: boolean;
  readonly actionsRequired: readonly string[];
}

/**
 * Tokens required (unless the guard holds them back), the hop limit from the shared judgement's
 * target (raised to the minimum, lowered to the maximum, otherwise kept), the endpoint enabled
 * when the rule requires it.
 */
export function planChange(
  assessment: Extract<Assessment, { kind: 'act' }>,
  imdsv1: Imdsv1Finding | undefined,
): ChangePlan {
  const { facts, judgement } = assessment;
  const before: MetadataValues = {
    httpTokens: facts.metadata.httpTokens,
    hopLimit: facts.metadata.httpPutResponseHopLimit,
    httpEndpoint: facts.metadata.httpEndpoint,
  };
  const tokensHeldBack = assessment.enforcesTokens && imdsv1 !== undefined && imdsv1.calls > 0;
  const { target } = judgement;
  const after: MetadataValues = {
    httpTokens: tokensHeldBack ? before.httpTokens : target.httpTokens,
    hopLimit: target.hopLimit,
    httpEndpoint: target.httpEndpoint ?? before.httpEndpoint,
  };

  const changes = diffMetadata(before, after);

  // Only what the remediation role may send (the ModifyInstanceMetadataOptions conditions in the
  // templates): HttpTokens=required or nothing, the hop limit always (within the rule's bounds),
  // HttpEndpoint=enabled only when the rule requires it. A field left out keeps its current value,
  // so holding tokens back omits HttpTokens instead of sending the instance's "optional": the role
  // can then be refused every "optional", and IPv6 and instance tags in IMDS are never touched.
  const request: ChangePlan['request'] = {
    InstanceId: facts.instanceId,
    ...(tokensHeldBack ? {} : { HttpTokens: 'required' }),
    HttpPutResponseHopLimit: after.hopLimit,
    ...(target.httpEndpoint !== undefined ? { HttpEndpoint: target.httpEndpoint } : {}),
  };

  const actionsRequired: string[] = [];
  if (tokensHeldBack && imdsv1 !== undefined) actionsRequired.push(imdsv1Advice(imdsv1));
  if (judgement.checks.some((check) => check.check === 'instanceProfile' && !check.passed)) {
    actionsRequired.push(
      'Attach an instance profile (IAM role) to the node: this function cannot do it; without one, pods relying on the node role get no credentials.',
    );
  }
  return { before, after, changes, request, tokensHeldBack, actionsRequired };
}

/** The fields whose value differs, `from` -> `to` (a field absent in `to` is not a change). */
export function diffMetadata(from: MetadataValues, to: MetadataValues): FieldChange[] {
  const changes: FieldChange[] = [];
  const compare = (field: FieldChange['field'], a: string | number | undefined, b: string | number | undefined) => {
    if (b !== undefined && a !== b) changes.push({ field, from: a === undefined ? 'absent' : String(a), to: String(b) });
  };
  compare('HttpTokens', from.httpTokens, to.httpTokens);
  compare('HttpPutResponseHopLimit', from.hopLimit, to.hopLimit);
  compare('HttpEndpoint', from.httpEndpoint, to.httpEndpoint);
  return changes;
}

export function imdsv1Advice(finding: Imdsv1Finding): string {
  const calls = finding.calls === 1 ? '1 IMDSv1 call' : `${formatCount(finding.calls)} IMDSv1 calls`;
  return `${calls} in the last ${finding.lookbackHours} h - migrate those clients to IMDSv2, then enforce HttpTokens=required.`;
}

function formatCount(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

export interface DriftWarning {
  readonly launchTemplateId: string | undefined;
  readonly launchTemplateVersion: string | undefined;
  readonly nodeGroup: string | undefined;
  readonly nodePool: string | undefined;
  readonly nodeClass: string | undefined;
  /** Where to fix it so replacement nodes come up right. */
  readonly fix: string;
}

export const LAUNCH_TEMPLATE_ID_TAG = 'aws:ec2launchtemplate:id';
export const LAUNCH_TEMPLATE_VERSION_TAG = 'aws:ec2launchtemplate:version';

/**
 * Fixing a live node leaves its source unchanged: a replacement from the same launch template,
 * node group or node pool comes back with the old settings. Undefined when there is no such source.
 */
export function detectDrift(tags: Readonly<Record<string, string>>, node: EksNode | undefined): DriftWarning | undefined {
  if (node?.kind === 'auto-mode') return undefined;
  const launchTemplateId = tags[LAUNCH_TEMPLATE_ID_TAG] || undefined;
  const launchTemplateVersion = tags[LAUNCH_TEMPLATE_VERSION_TAG] || undefined;
  const nodeGroup = tags['eks:nodegroup-name'] || undefined;
  const nodePool = tags['karpenter.sh/nodepool'] || undefined;
  const nodeClass = tags['karpenter.k8s.aws/ec2nodeclass'] || undefined;
  if (launchTemplateId === undefined && nodeGroup === undefined && nodePool === undefined) return undefined;

  // The launch template tags are `aws:` tags, set by EC2 alone; the others anyone may set, so they are quoted.
  const template =
    launchTemplateId === undefined
      ? undefined
      : `launch template ${launchTemplateId}${launchTemplateVersion ? ` version ${launchTemplateVersion}` : ''}`;
  let fix: string;
  if (nodePool !== undefined) {
    // Karpenter writes its own launch templates from the EC2NodeClass: editing them is undone.
    fix =
      `set spec.metadataOptions in Karpenter EC2NodeClass ${nodeClass === undefined ? `(the one node pool ${quoteValue(nodePool)} uses)` : quoteValue(nodeClass)}` +
      ` of node pool ${quoteValue(nodePool)}${template ? ` (${template} is generated by Karpenter: do not edit it)` : ''}`;
  } else if (nodeGroup !== undefined) {
    fix =
      `create a new version of ${template ?? 'the launch template'} with the metadata options` +
      ` and update managed node group ${quoteValue(nodeGroup)}${node?.cluster ? ` of cluster ${quoteValue(node.cluster)}` : ''} to it`;
  } else {
    fix = `create a new version of ${template} with the metadata options and point the Auto Scaling group (or whatever launches these nodes) at it`;
  }
  return { launchTemplateId, launchTemplateVersion, nodeGroup, nodePool, nodeClass, fix };
}
