import { identifyEksNode, type EksNode } from './eks-node.ts';
import { readExemption, type Exemption } from './exemption.ts';
import type { InstanceFacts } from './instance.ts';
import type { RuleParameters } from './parameters.ts';
import { quoteValue } from './sanitize.ts';

import type { ComplianceType } from './config-rule/rule.ts';

export type { ComplianceType };

export type CheckName = 'httpTokens' | 'hopLimit' | 'httpEndpoint' | 'instanceProfile';

export interface CheckResult {
  readonly check: CheckName;
  readonly passed: boolean;
  /** What the instance has, as text (`optional`, `1`, `absent`). */
  readonly actual: string;
  /** What the rule wants, as text (`required`, `2..64`, `attached`). */
  readonly expected: string;
}

/** Why an instance is out of scope. An exemption is not one: it never hides a finding. */
export type ScopeReason = 'instance-gone' | 'not-eks-node' | 'cluster-not-selected';

export type Judgement =
  | {
      readonly compliance: 'NOT_APPLICABLE';
      readonly instanceId: string;
      readonly reason: ScopeReason;
      readonly detail: string;
      readonly node: EksNode | undefined;
    }
  | {
      readonly compliance: 'COMPLIANT' | 'NON_COMPLIANT';
      readonly instanceId: string;
      readonly node: EksNode;
      readonly checks: readonly CheckResult[];
      /** The metadata change has not been applied yet; the values are judged as they will be. */
      readonly pending: boolean;
      readonly target: MetadataTarget;
      /** Judged at the evaluation time; it stops remediation while active and never changes compliance. */
      readonly exemption: Exemption;
    };

/** The metadata options that would make the instance compliant (what remediation sends). */
export interface MetadataTarget {
  readonly httpTokens: 'required';
  readonly hopLimit: number;
  readonly httpEndpoint: 'enabled' | undefined;
}

const GONE_STATES = new Set(['shutting-down', 'terminated']);

/**
 * A pure function of the instance, the parameters and the evaluation time (an exemption's
 * expiry is judged against it): the rule's whole IMDS judgement.
 */
export function judgeInstance(instance: InstanceFacts, params: RuleParameters, evaluatedAt: Date): Judgement {
  const instanceId = instance.instanceId;
  const node = identifyEksNode(instance.tags, instance.operator, params.nodeTagKeys);
  if (instance.state !== undefined && GONE_STATES.has(instance.state)) {
    return { compliance: 'NOT_APPLICABLE', instanceId, node, reason: 'instance-gone', detail: `instance is ${instance.state}` };
  }
  if (node === undefined) {
    return { compliance: 'NOT_APPLICABLE', instanceId, node, reason: 'not-eks-node', detail: 'not an EKS node (no NodeTagKeys tag)' };
  }
  if (params.clusterNames.length > 0 && (node.cluster === undefined || !params.clusterNames.includes(node.cluster))) {
    return {
      compliance: 'NOT_APPLICABLE',
      instanceId,
      node,
      reason: 'cluster-not-selected',
      detail: `cluster ${node.cluster === undefined ? '(unknown)' : quoteValue(node.cluster, 100)} is not in ClusterNames`,
    };
  }
  const checks = runChecks(instance, params);
  return {
    compliance: checks.every((c) => c.passed) ? 'COMPLIANT' : 'NON_COMPLIANT',
    instanceId,
    node,
    checks,
    pending: instance.metadata.state === 'pending',
    target: metadataTarget(instance, params),
    exemption: readExemption(instance.tags[params.exemptionTagKey], evaluatedAt, params.exemptionMaxDays),
  };
}

function runChecks(instance: InstanceFacts, params: RuleParameters): CheckResult[] {
  const { httpTokens, httpPutResponseHopLimit: hop, httpEndpoint } = instance.metadata;
  const checks: CheckResult[] = [
    { check: 'httpTokens', passed: httpTokens === 'required', actual: httpTokens ?? 'absent', expected: 'required' },
    {
      check: 'hopLimit',
      passed: hop !== undefined && hop >= params.minHopLimit && (params.maxHopLimit === undefined || hop <= params.maxHopLimit),
      actual: hop === undefined ? 'absent' : String(hop),
      expected: hopRange(params),
    },
  ];
  if (params.requireHttpEndpoint) {
    checks.push({ check: 'httpEndpoint', passed: httpEndpoint === 'enabled', actual: httpEndpoint ?? 'absent', expected: 'enabled' });
  }
  if (params.requireInstanceProfile) {
    checks.push({
      check: 'instanceProfile',
      passed: instance.hasInstanceProfile,
      actual: instance.hasInstanceProfile ? 'attached' : 'none',
      expected: 'attached',
    });
  }
  return checks;
}

function hopRange(params: Pick<RuleParameters, 'minHopLimit' | 'maxHopLimit'>): string {
  if (params.maxHopLimit === undefined) return `>=${params.minHopLimit}`;
  if (params.maxHopLimit === params.minHopLimit) return String(params.minHopLimit);
  return `${params.minHopLimit}..${params.maxHopLimit}`;
}

/**
 * Tokens required; the hop limit raised to the minimum or lowered to the maximum, otherwise
 * kept (never lowered without reason: a deliberate 3 stays 3); the endpoint enabled when required.
 */
export function metadataTarget(instance: InstanceFacts, params: RuleParameters): MetadataTarget {
  const current = instance.metadata.httpPutResponseHopLimit;
  let hopLimit = current ?? params.minHopLimit;
  if (hopLimit < params.minHopLimit) hopLimit = params.minHopLimit;
  if (params.maxHopLimit !== undefined && hopLimit > params.maxHopLimit) hopLimit = params.maxHopLimit;
  return {
    httpTokens: 'required',
    hopLimit,
    httpEndpoint: params.requireHttpEndpoint ? 'enabled' : undefined,
  };
}

/** The AWS CLI command that applies the target, as an operator would paste it. */
export function fixCommand(instanceId: string, target: MetadataTarget, includeEndpoint: boolean): string {
  const endpoint = includeEndpoint && target.httpEndpoint ? ` --http-endpoint ${target.httpEndpoint}` : '';
  return (
    `aws ec2 modify-instance-metadata-options --instance-id ${instanceId}` +
    ` --http-tokens ${target.httpTokens} --http-put-response-hop-limit ${target.hopLimit}${endpoint}`
  );
}
