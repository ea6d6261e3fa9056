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
    ['Auto Mode', { 'eks:eks-cluster-name': 'auto', 'eks:kubernetes-node-pool-name': 'general-purpose' }, { managed: true, principal: 'eks.amazonaws.com' }, { kind: 'auto-mode', cluster: 'auto', group: 'general-purpose' }],
  ] as const)('recognises a %s node', (_name, tags, operator, expected) => {
    expect(identifyEksNode(tags, operator, nodeTagKeys)).toEqual(expected);
  });

  it('does not take a non-EKS instance, nor an operator other than EKS', () => {
    expect(identifyEksNode({ Name: 'bastion', 'kubernetes.io/role': 'x' }, undefined, nodeTagKeys)).toBeUndefined();
    expect(identifyEksNode({ 'kubernetes.io/cluster/': 'owned' }, undefined, nodeTagKeys)).toMatchObject({ cluster: undefined });
    expect(identifyEksNode({ 'eks:cluster-name': 'p' }, { managed: true, principal: 'ecs.amazonaws.com' }, nodeTagKeys)?.kind).toBe('self-managed');
  });

  it('takes the cluster from the aws: tag, which users cannot set, over any user-settable key', () => {
    const tags = { 'eks:cluster-name': 'staging', 'eks:eks-cluster-name': 'dev', 'alpha.eksctl.io/cluster-name': 'x', 'aws:eks:cluster-name': 'prod' };
    expect(identifyEksNode(tags, undefined, nodeTagKeys)?.cluster).toBe('prod');
  });

  it.each([
    ['no operator (a user tag alone)', undefined],
    ['an unmanaged operator', { managed: false, principal: undefined }],
    ['another principal', { managed: true, principal: 'eks.amazonaws.com.attacker.example' }],
  ])('does not take the Auto Mode node pool tag with %s as Auto Mode', (_name, operator) => {
    const tags = { 'eks:cluster-name': 'prod', 'eks:nodegroup-name': 'ng-1', 'eks:kubernetes-node-pool-name': 'general-purpose' };
    expect(identifyEksNode(tags, operator, nodeTagKeys)?.kind).toBe('managed-node-group');
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
