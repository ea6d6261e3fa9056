import { describe, expect, it } from 'vitest';
import { identifyEksNode, sweepFilters } from '../../functions/shared/eks-node.ts';
import { parseRuleParameters } from '../../functions/shared/parameters.ts';

const { nodeTagKeys } = parseRuleParameters({});

describe('identifyEksNode', () => {
  it.each([
    ['managed node group', { 'eks:cluster-name': 'prod', 'eks:nodegroup-name': 'ng-1', 'kubernetes.io/cluster/prod': 'owned' }, undefined, { kind: 'managed-node-group', cluster: 'prod', group: 'ng-1' }],
    ['Karpenter', { 'karpenter.sh/nodepool': 'default', 'eks:eks-cluster-name': 'prod', 'kubernetes.io/cluster/prod': 'owned' }, undefined, { kind: 'karpenter', cluster: 'prod', group: 'default' }],
    ['eksctl self-managed', { 'alpha.eksctl.io/cluster-name': 'dev', 'alpha.eksctl.io/nodegroup-name': 'ng-a', 'kubernetes.io/cluster/dev': 'owned' }, undefined, { kind: 'eksctl', cluster: 'dev', group: 'ng-a' }],
    ['plain self-managed', { 'kubernetes.io/cluster/legacy': 'owned' }, undefined, { kind: 'self-managed', cluster: 'legacy', group: undefined }],
    ['AWS-generated tag only', { 'aws:eks:cluster-name': 'prod' }, undefined, { kind: 'self-managed', cluster: 'prod', group: undefined }],
    ['Auto Mode by tag', { 'eks:eks-cluster-name': 'auto', 'eks:kubernetes-node-pool-name': 'general-purpose' }, undefined, { kind: 'auto-mode', cluster: 'auto', group: 'general-purpose' }],
    ['Auto Mode by operator', { 'eks:eks-cluster-name': 'auto' }, { managed: true, principal: 'eks.amazonaws.com' }, { kind: 'auto-mode', cluster: 'auto', group: undefined }],
  ] as const)('recognises a %s node', (_name, tags, operator, expected) => {
    expect(identifyEksNode(tags, operator, nodeTagKeys)).toEqual(expected);
  });

  it('does not take a non-EKS instance, nor an operator other than EKS', () => {
    expect(identifyEksNode({ Name: 'bastion', 'kubernetes.io/role': 'x' }, undefined, nodeTagKeys)).toBeUndefined();
    expect(identifyEksNode({ 'kubernetes.io/cluster/': 'owned' }, undefined, nodeTagKeys)).toMatchObject({ cluster: undefined });
    expect(identifyEksNode({ 'eks:cluster-name': 'p' }, { managed: true, principal: 'ecs.amazonaws.com' }, nodeTagKeys)?.kind).toBe('self-managed');
  });

  it('uses NodeTagKeys as given: exact keys and prefixes', () => {
    const custom = parseRuleParameters({ NodeTagKeys: 'team/k8s-*,node-role' }).nodeTagKeys;
    expect(identifyEksNode({ 'team/k8s-prod': 'x' }, undefined, custom)).toBeDefined();
    expect(identifyEksNode({ 'node-role': 'worker' }, undefined, custom)).toBeDefined();
    expect(identifyEksNode({ 'node-role-x': 'worker' }, undefined, custom)).toBeUndefined();
    expect(identifyEksNode({ 'eks:cluster-name': 'prod' }, undefined, custom)).toBeUndefined();
  });
});

describe('sweepFilters', () => {
  it('asks EC2 for live instances carrying any node tag key, prefixes as wildcards', () => {
    expect(sweepFilters({ nodeTagKeys })).toEqual([
      {
        Name: 'tag-key',
        Values: [
          'eks:cluster-name',
          'eks:nodegroup-name',
          'eks:eks-cluster-name',
          'aws:eks:cluster-name',
          'kubernetes.io/cluster/*',
          'karpenter.sh/nodepool',
          'alpha.eksctl.io/cluster-name',
        ],
      },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
    ]);
  });
});
