import type { Filter } from '@aws-sdk/client-ec2';
import type { RuleParameters, TagKeyPattern } from './parameters.ts';
import { quoteValue } from './sanitize.ts';

export type NodeKind = 'managed-node-group' | 'karpenter' | 'eksctl' | 'auto-mode' | 'self-managed';

export interface EksNode {
  readonly kind: NodeKind;
  /** Derived from the tags; undefined when only a tag without a cluster name matched. */
  readonly cluster: string | undefined;
  /** The managed node group, Karpenter node pool, eksctl node group or Auto Mode node pool. */
  readonly group: string | undefined;
}

const CLUSTER_PREFIX = 'kubernetes.io/cluster/';
// These tags carry the cluster name as their value. The `aws:` key comes first: only AWS can
// set `aws:` tags, so a user who can tag the instance cannot move it into another cluster's
// ClusterNames scope (or out of it) while that tag is present.
const CLUSTER_NAME_TAGS = [
  'aws:eks:cluster-name',
  'eks:cluster-name',
  'eks:eks-cluster-name',
  'alpha.eksctl.io/cluster-name',
] as const;

const AUTO_MODE_NODE_POOL_TAG = 'eks:kubernetes-node-pool-name';
/** The principal EC2 names as the operator of EKS Auto Mode's managed instances. */
export const EKS_OPERATOR_PRINCIPAL = 'eks.amazonaws.com';

function matchesTagKey(tagKey: string, pattern: TagKeyPattern): boolean {
  return pattern.prefix ? tagKey.startsWith(pattern.key) : tagKey === pattern.key;
}

/** An EKS node when any of its tag keys matches NodeTagKeys; undefined otherwise. */
export function identifyEksNode(
  tags: Readonly<Record<string, string>>,
  operator: { readonly managed: boolean; readonly principal: string | undefined } | undefined,
  patterns: readonly TagKeyPattern[],
): EksNode | undefined {
  const keys = Object.keys(tags);
  if (!keys.some((key) => patterns.some((pattern) => matchesTagKey(key, pattern)))) return undefined;
  return { kind: nodeKind(tags, operator), cluster: clusterName(tags, keys), group: groupName(tags) };
}

function nodeKind(
  tags: Readonly<Record<string, string>>,
  operator: { readonly managed: boolean; readonly principal: string | undefined } | undefined,
): NodeKind {
  // Auto Mode instances are EC2 managed instances operated by EKS, and only EC2 sets the
  // operator. A tag proves nothing (anyone with ec2:CreateTags can add the node pool tag to
  // escape remediation), so the tag alone never makes a node Auto Mode.
  if (operator?.managed === true && operator.principal === EKS_OPERATOR_PRINCIPAL) return 'auto-mode';
  if (tags['eks:nodegroup-name'] !== undefined) return 'managed-node-group';
  if (tags['karpenter.sh/nodepool'] !== undefined) return 'karpenter';
  if (tags['alpha.eksctl.io/nodegroup-name'] !== undefined || tags['alpha.eksctl.io/cluster-name'] !== undefined) {
    return 'eksctl';
  }
  return 'self-managed';
}

function clusterName(tags: Readonly<Record<string, string>>, keys: readonly string[]): string | undefined {
  for (const key of CLUSTER_NAME_TAGS) {
    const value = tags[key];
    if (value) return value;
  }
  const cloudProviderKey = keys.find((key) => key.startsWith(CLUSTER_PREFIX) && key.length > CLUSTER_PREFIX.length);
  return cloudProviderKey?.slice(CLUSTER_PREFIX.length);
}

function groupName(tags: Readonly<Record<string, string>>): string | undefined {
  return (
    tags['eks:nodegroup-name'] ??
    tags['karpenter.sh/nodepool'] ??
    tags[AUTO_MODE_NODE_POOL_TAG] ??
    tags['alpha.eksctl.io/nodegroup-name']
  );
}

/**
 * Why a node (or a source of nodes) is left out although it is EKS: its cluster is not in
 * ClusterNames. One rule for instances, groups and templates. (An exemption is no exclusion: it
 * never hides a finding.)
 */
export function scopeExclusion(
  node: EksNode,
  params: Pick<RuleParameters, 'clusterNames'>,
): { readonly reason: 'cluster-not-selected'; readonly detail: string } | undefined {
  if (params.clusterNames.length > 0 && (node.cluster === undefined || !params.clusterNames.includes(node.cluster))) {
    return { reason: 'cluster-not-selected', detail: `cluster ${node.cluster === undefined ? '(unknown)' : quoteValue(node.cluster, 100)} is not in ClusterNames` };
  }
  return undefined;
}

/** States a sweep reads; shutting-down and terminated instances are gone for our purposes. */
const SWEPT_INSTANCE_STATES = ['pending', 'running', 'stopping', 'stopped'] as const;

/**
 * DescribeInstances filters that let EC2 drop non-nodes server-side: one `tag-key` filter whose
 * values are ORed (a trailing `*` is an EC2 wildcard), and the live instance states.
 */
export function sweepFilters(params: Pick<RuleParameters, 'nodeTagKeys'>): Filter[] {
  return [
    // Tag key patterns never contain `*` or `?` (the parser refuses them), so they pass as they are.
    { Name: 'tag-key', Values: params.nodeTagKeys.map((p) => (p.prefix ? `${p.key}*` : p.key)) },
    { Name: 'instance-state-name', Values: [...SWEPT_INSTANCE_STATES] },
  ];
}
