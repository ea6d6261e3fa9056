import type { EC2Client } from '@aws-sdk/client-ec2';
import { annotate } from '../shared/annotation.ts';
import type { DebugLogger } from '../shared/clients.ts';
import type { ConfigRule, Verdict } from '../shared/config-rule/rule.ts';
import { describeOneInstance, EC2_INSTANCE } from '../shared/ec2.ts';
import { factsFromConfigurationItem, factsFromEc2Instance, type ConfigurationItemInstance } from '../shared/instance.ts';
import { judgeInstance, type Judgement } from '../shared/judge.ts';
import { parseRuleParameters, type RuleParameters } from '../shared/parameters.ts';
import { sweepEksNodes } from '../shared/sweep.ts';

export interface InstanceRuleDeps {
  readonly ec2: Pick<EC2Client, 'send'>;
  readonly logger: DebugLogger;
}

/** The IMDS rule for `AWS::EC2::Instance`: the shared judgement behind the Config protocol. */
export function createInstanceRule(deps: InstanceRuleDeps): ConfigRule<RuleParameters> {
  const verdictOf = (judgement: Judgement): Verdict => {
    deps.logger.debug('judged instance', {
      instanceId: judgement.instanceId,
      compliance: judgement.compliance,
      cluster: judgement.node?.cluster,
      nodeKind: judgement.node?.kind,
    });
    return { resourceType: EC2_INSTANCE, resourceId: judgement.instanceId, compliance: judgement.compliance, annotation: annotate(judgement) };
  };

  return {
    resourceTypes: [EC2_INSTANCE],
    parseParameters: parseRuleParameters,

    evaluateChange: (item, params) =>
      verdictOf(
        judgeInstance(
          factsFromConfigurationItem(item.resourceId, item.configuration as ConfigurationItemInstance | undefined, item.tags),
          params,
        ),
      ),

    // Oversized items carry no configuration: read the instance as it is now.
    async evaluateOversized(item, params) {
      try {
        const instance = await describeOneInstance(deps.ec2, item.resourceId);
        if (instance !== undefined) return verdictOf(judgeInstance(factsFromEc2Instance(instance), params));
      } catch (error) {
        if ((error as Error).name !== 'InvalidInstanceID.NotFound') throw error;
      }
      return verdictOf({ compliance: 'NOT_APPLICABLE', instanceId: item.resourceId, node: undefined, reason: 'instance-gone', detail: 'instance no longer exists' });
    },

    async *sweep(params) {
      for await (const page of sweepEksNodes(deps.ec2, params)) yield page.map(verdictOf);
    },
  };
}
