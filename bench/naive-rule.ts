/**
 * The baseline the sweep is measured against: the rule as it is usually first written, with the
 * same SDK clients, client settings and judgement. It describes every instance with no filters
 * (non-nodes and terminated instances come back too), judges each one client-side, keeps every
 * evaluation for a node in memory, then writes them 100 at a time, one call after another, and
 * cleans up the same way the rule does, also one call after another. Bundled like the functions.
 */
import {
  ConfigServiceClient,
  paginateGetComplianceDetailsByConfigRule,
  PutEvaluationsCommand,
  type Evaluation,
} from '@aws-sdk/client-config-service';
import { EC2Client, paginateDescribeInstances } from '@aws-sdk/client-ec2';
import { annotate } from '../functions/shared/annotation.ts';
import { CLIENT_DEFAULTS } from '../functions/shared/clients.ts';
import { EC2_INSTANCE } from '../functions/shared/ec2.ts';
import { factsFromEc2Instance } from '../functions/shared/instance.ts';
import { judgeInstance } from '../functions/shared/judge.ts';
import { parseRuleParameters } from '../functions/shared/parameters.ts';

const ec2 = new EC2Client(CLIENT_DEFAULTS);
const config = new ConfigServiceClient(CLIENT_DEFAULTS);

interface ScheduledEvent {
  readonly invokingEvent: string;
  readonly ruleParameters?: string;
  readonly resultToken: string;
  readonly configRuleName: string;
}

export interface NaiveSummary {
  readonly described: number;
  readonly evaluated: number;
  readonly cleanedUp: number;
}

export async function handler(event: ScheduledEvent): Promise<NaiveSummary> {
  const params = parseRuleParameters(event.ruleParameters);
  const at = new Date((JSON.parse(event.invokingEvent) as { notificationCreationTime: string }).notificationCreationTime);
  const put = (evaluations: Evaluation[]) => config.send(new PutEvaluationsCommand({ ResultToken: event.resultToken, Evaluations: evaluations }));

  let described = 0;
  const evaluations: Evaluation[] = [];
  for await (const page of paginateDescribeInstances({ client: ec2, pageSize: 1000 }, {})) {
    for (const reservation of page.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) {
        described++;
        const judgement = judgeInstance(factsFromEc2Instance(instance), params, at);
        if (judgement.compliance === 'NOT_APPLICABLE' && judgement.reason === 'not-eks-node') continue;
        evaluations.push({
          ComplianceResourceType: EC2_INSTANCE,
          ComplianceResourceId: judgement.instanceId,
          ComplianceType: judgement.compliance,
          Annotation: annotate(judgement),
          OrderingTimestamp: at,
        });
      }
    }
  }
  for (let i = 0; i < evaluations.length; i += 100) await put(evaluations.slice(i, i + 100));

  const stale: Evaluation[] = [];
  const pages = paginateGetComplianceDetailsByConfigRule(
    { client: config, pageSize: 100 },
    { ConfigRuleName: event.configRuleName, ComplianceTypes: ['COMPLIANT', 'NON_COMPLIANT'] },
  );
  for await (const page of pages) {
    for (const result of page.EvaluationResults ?? []) {
      const qualifier = result.EvaluationResultIdentifier?.EvaluationResultQualifier;
      const ordering = result.EvaluationResultIdentifier?.OrderingTimestamp;
      if (qualifier?.ResourceId === undefined || (ordering !== undefined && ordering.getTime() >= at.getTime())) continue;
      stale.push({
        ComplianceResourceType: EC2_INSTANCE,
        ComplianceResourceId: qualifier.ResourceId,
        ComplianceType: 'NOT_APPLICABLE',
        Annotation: 'not seen by the latest sweep',
        OrderingTimestamp: at,
      });
    }
  }
  for (let i = 0; i < stale.length; i += 100) await put(stale.slice(i, i + 100));
  return { described, evaluated: evaluations.length, cleanedUp: stale.length };
}
