import type { Filter } from '@aws-sdk/client-ec2';
import type { RuleParameters, TagKeyPattern } from './parameters.ts';

export type NodeKind = 'managed-node-group' | 'karpenter' | 'eksctl' | 'auto-mode' | 'self-managed';

export interface EksNode {
  readonly kind: NodeKind;
  /** Derived from the tags; undefined when only a tag without a cluster name matched. */
  readonly cluster: string | undefined;
  /** The managed node group, Karpenter node pool, eksctl node group or Auto Mode node pool. */
  readonly group: string | undefined;
}

const CLUSTER_PREFIX = 'kubernetes.io/cluster/';
// Most specific first: these tags carry the cluster name as their value.
const CLUSTER_NAME_TAGS = [
  'eks:cluster-name',
  'eks:eks-cluster-name',
  'aws:eks:cluster-name',
  'alpha.eksctl.io/cluster-name',
] as const;

const AUTO_MODE_NODE_POOL_TAG = 'eks:kubernetes-node-pool-name';

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
  // Auto Mode instances are EC2 managed instances operated by EKS: the operator field is
  // authoritative, the node pool tag covers configuration items recorded before it existed.
  if ((operator?.managed && operator.principal?.includes('eks')) || tags[AUTO_MODE_NODE_POOL_TAG] !== undefined) {
    return 'auto-mode';
  }
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
 * ClusterNames, or it carries the exemption tag. One rule for instances, groups and templates.
 */
export function scopeExclusion(
  node: EksNode,
  tags: Readonly<Record<string, string>>,
  params: Pick<RuleParameters, 'clusterNames' | 'exemptionTagKey'>,
): { readonly reason: 'cluster-not-selected' | 'exempt'; readonly detail: string } | undefined {
  if (params.clusterNames.length > 0 && (node.cluster === undefined || !params.clusterNames.includes(node.cluster))) {
    return { reason: 'cluster-not-selected', detail: `cluster ${node.cluster ?? '(unknown)'} is not in ClusterNames` };
  }
  if (tags[params.exemptionTagKey] !== undefined) return { reason: 'exempt', detail: `exempt by tag ${params.exemptionTagKey}` };
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
