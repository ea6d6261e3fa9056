import type { EC2Client } from '@aws-sdk/client-ec2';
import { annotate } from '../shared/annotation.ts';
import type { DebugLogger } from '../shared/clients.ts';
import type { ConfigRule, Verdict } from '../shared/config-rule/rule.ts';
import { describeOneInstance, EC2_INSTANCE } from '../shared/ec2.ts';
import { factsFromConfigurationItem, factsFromEc2Instance, type ConfigurationItemInstance } from '../shared/instance.ts';
import { judgeInstance, type Judgement } from '../shared/judge.ts';
import { parseRuleParameters, type RuleParameters } from '../shared/parameters.ts';
import { cleanText } from '../shared/sanitize.ts';
import { sweepEksNodes } from '../shared/sweep.ts';

export interface InstanceRuleDeps {
  readonly ec2: Pick<EC2Client, 'send'>;
  readonly logger: DebugLogger;
  /** The evaluation time of change and oversized notifications (an exemption's expiry is judged against it). */
  readonly now?: () => Date;
}

/** Exemption tags one sweep saw: valid ones (the node is exempt now) and ignored ones. */
export interface ExemptionTally {
  readonly exempt: number;
  readonly ignored: number;
}

export interface InstanceRule extends ConfigRule<RuleParameters> {
  /** What the latest sweep counted, for the ExemptNodes and ExemptionsIgnored metrics. */
  lastSweepExemptions(): ExemptionTally;
}

/** The IMDS rule for `AWS::EC2::Instance`: the shared judgement behind the Config protocol. */
export function createInstanceRule(deps: InstanceRuleDeps): InstanceRule {
  const now = deps.now ?? (() => new Date());
  let tally = { exempt: 0, ignored: 0 };

  const verdictOf = (judgement: Judgement): Verdict => {
    deps.logger.debug('judged instance', {
      instanceId: judgement.instanceId,
      compliance: judgement.compliance,
      // A tag value: cleaned like every other output of one.
      cluster: judgement.node?.cluster === undefined ? undefined : cleanText(judgement.node.cluster, 100),
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
          now(),
        ),
      ),

    // Oversized items carry no configuration: read the instance as it is now.
    async evaluateOversized(item, params) {
      try {
        const instance = await describeOneInstance(deps.ec2, item.resourceId);
        if (instance !== undefined) return verdictOf(judgeInstance(factsFromEc2Instance(instance), params, now()));
      } catch (error) {
        if ((error as Error).name !== 'InvalidInstanceID.NotFound') throw error;
      }
      return verdictOf({ compliance: 'NOT_APPLICABLE', instanceId: item.resourceId, node: undefined, reason: 'instance-gone', detail: 'instance no longer exists' });
    },

    async *sweep(params, notificationTime) {
      const counting = { exempt: 0, ignored: 0 };
      tally = counting;
      for await (const page of sweepEksNodes(deps.ec2, params, notificationTime)) {
        for (const judgement of page) {
          if (judgement.compliance === 'NOT_APPLICABLE') continue;
          if (judgement.exemption.status === 'active') counting.exempt++;
          else if (judgement.exemption.status === 'ignored') counting.ignored++;
        }
        yield page.map(verdictOf);
      }
    },

    lastSweepExemptions: () => ({ ...tally }),
  };
}
