import { autoModeNode, eksctlNode, karpenterNode, managedNodeGroupNode, plainInstance } from './fleet.ts';
import type { InstanceSpec } from './instance.ts';

export interface FleetMember {
  /** What the node stands for, as the demo prints it. */
  readonly name: string;
  readonly spec: InstanceSpec;
  /** IMDSv1 calls CloudWatch reports for it (`MetadataNoToken`). */
  readonly imdsV1Calls: number;
  /** What the flow must end with: the rule's final result for it, or `filtered` for non-nodes. */
  readonly expected: {
    readonly finalCompliance: 'COMPLIANT' | 'NON_COMPLIANT' | 'NOT_APPLICABLE' | 'filtered';
    readonly notification: 'remediated' | 'partially-remediated' | 'skipped' | 'none';
  };
}

/**
 * The fleet of `npm run demo` and of the end-to-end flow test: one of each situation the rule
 * meets in real accounts.
 */
export function demoFleet(): FleetMember[] {
  return [
    member('managed node group (AL2023, hop 1)', managedNodeGroupNode({ cluster: 'prod', nodegroup: 'al2023-general' }), 'COMPLIANT', 'remediated'),
    member('Karpenter node pool (hop 1)', karpenterNode({ cluster: 'prod', nodepool: 'default' }), 'COMPLIANT', 'remediated'),
    member('eksctl self-managed (tokens optional)', eksctlNode({ cluster: 'dev', nodegroup: 'ng-1', httpTokens: 'optional', hopLimit: 2 }), 'COMPLIANT', 'remediated'),
    member('no instance profile', managedNodeGroupNode({ cluster: 'prod', nodegroup: 'batch', hopLimit: 2, profile: false }), 'NON_COMPLIANT', 'skipped'),
    // Exempt for 30 more days: still NON_COMPLIANT (an exemption never hides a finding), not modified.
    member(
      'exempt (imds-guard/exempt)',
      managedNodeGroupNode({ cluster: 'prod', nodegroup: 'legacy', tags: { 'imds-guard/exempt': `until=${daysFromNow(30)};reason=SEC-1234` } }),
      'NON_COMPLIANT',
      'skipped',
    ),
    member('still calls IMDSv1', eksctlNode({ cluster: 'dev', nodegroup: 'ng-legacy', httpTokens: 'optional', hopLimit: 1 }), 'NON_COMPLIANT', 'partially-remediated', 42),
    member('EKS Auto Mode', autoModeNode({ cluster: 'auto' }), 'NON_COMPLIANT', 'skipped'),
    member('compliant', managedNodeGroupNode({ cluster: 'prod', nodegroup: 'system', hopLimit: 2 }), 'COMPLIANT', 'none'),
    member('non-EKS: web server', plainInstance(), 'filtered', 'none'),
    member('non-EKS: bastion', plainInstance({ tags: { Name: 'bastion' } }), 'filtered', 'none'),
  ];
}

/** A UTC date (YYYY-MM-DD) `days` from today: the demo runs at any date. */
function daysFromNow(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

function member(
  name: string,
  spec: InstanceSpec,
  finalCompliance: FleetMember['expected']['finalCompliance'],
  notification: FleetMember['expected']['notification'],
  imdsV1Calls = 0,
): FleetMember {
  return { name, spec, imdsV1Calls, expected: { finalCompliance, notification } };
}
