import { identifyEksNode, scopeExclusion, type EksNode } from './eks-node.ts';
import { readExemption, type Exemption } from './exemption.ts';
import type { InstanceFacts } from './instance.ts';
import { checkMetadata, targetHopLimit, type CheckResult } from './metadata-checks.ts';
import type { RuleParameters } from './parameters.ts';

import type { ComplianceType } from './config-rule/rule.ts';

export type { ComplianceType };

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
  const excluded = scopeExclusion(node, params);
  if (excluded !== undefined) return { compliance: 'NOT_APPLICABLE', instanceId, node, ...excluded };
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
  const checks = checkMetadata(instance.metadata, params);
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

/**
 * Tokens required; the hop limit raised to the minimum or lowered to the maximum, otherwise
 * kept (never lowered without reason: a deliberate 3 stays 3); the endpoint enabled when required.
 */
export function metadataTarget(instance: InstanceFacts, params: RuleParameters): MetadataTarget {
  return {
    httpTokens: 'required',
    hopLimit: targetHopLimit(instance.metadata.httpPutResponseHopLimit, params),
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
