/**
 * A prototype, not product code: the scheduled sweep with its cleanup listing started at the
 * same time as the sweep instead of after it, the listing split into a COMPLIANT and a
 * NON_COMPLIANT chain, and the stale results merged into the sweep's last batch. It reuses the
 * rule's own pieces (sweepEksNodes, EvaluationSink, annotate) and exists to measure what the
 * change recommended in docs/benchmarks.md would buy, and what it would cost in memory: results
 * are told apart by instance id (the ids the sweep saw are kept) instead of by timestamp.
 */
import { ConfigServiceClient, paginateGetComplianceDetailsByConfigRule, type Evaluation } from '@aws-sdk/client-config-service';
import { EC2Client } from '@aws-sdk/client-ec2';
import { parseRuleInvocation } from '../functions/evaluate-imds/config-event.ts';
import { EvaluationSink } from '../functions/evaluate-imds/evaluation-sink.ts';
import { annotate } from '../functions/shared/annotation.ts';
import { CLIENT_DEFAULTS } from '../functions/shared/clients.ts';
import { parseRuleParameters } from '../functions/shared/parameters.ts';
import { sweepEksNodes } from '../functions/shared/sweep.ts';

const ec2 = new EC2Client(CLIENT_DEFAULTS);
const config = new ConfigServiceClient(CLIENT_DEFAULTS);
const RESOURCE_TYPE = 'AWS::EC2::Instance';

export async function handler(event: unknown): Promise<{ swept: number; cleanedUp: number }> {
  const invocation = parseRuleInvocation(event);
  if (invocation.trigger.kind !== 'scheduled') throw new Error('the prototype handles scheduled sweeps only');
  const at = invocation.trigger.notificationTime;
  const params = parseRuleParameters(invocation.rawRuleParameters);
  const sink = new EvaluationSink({ config, resultToken: invocation.resultToken, testMode: invocation.testMode });
  const evaluation = (id: string, compliance: Evaluation['ComplianceType'], annotation: string): Evaluation => ({
    ComplianceResourceType: RESOURCE_TYPE,
    ComplianceResourceId: id,
    ComplianceType: compliance,
    Annotation: annotation,
    OrderingTimestamp: at,
  });

  const seen = new Set<string>();
  const sweep = (async () => {
    for await (const page of sweepEksNodes(ec2, params)) {
      for (const { judgement } of page) {
        seen.add(judgement.instanceId);
        await sink.add(evaluation(judgement.instanceId, judgement.compliance, annotate(judgement)));
      }
    }
  })();
  // Results written by this sweep before the listing reaches them carry the new timestamp and
  // are skipped here; the rest are candidates until the sweep has said which ids it saw.
  const listings = (['COMPLIANT', 'NON_COMPLIANT'] as const).map(async (complianceType) => {
    const candidates: string[] = [];
    const pages = paginateGetComplianceDetailsByConfigRule(
      { client: config, pageSize: 100 },
      { ConfigRuleName: invocation.configRuleName, ComplianceTypes: [complianceType] },
    );
    for await (const page of pages) {
      for (const result of page.EvaluationResults ?? []) {
        const qualifier = result.EvaluationResultIdentifier?.EvaluationResultQualifier;
        const ordering = result.EvaluationResultIdentifier?.OrderingTimestamp;
        if (qualifier?.ResourceType !== RESOURCE_TYPE || qualifier.ResourceId === undefined) continue;
        if (ordering !== undefined && ordering.getTime() >= at.getTime()) continue;
        if (!seen.has(qualifier.ResourceId)) candidates.push(qualifier.ResourceId);
      }
    }
    return candidates;
  });
  const [, ...found] = await Promise.all([sweep, ...listings]);
  let cleanedUp = 0;
  for (const id of found.flat()) {
    if (seen.has(id)) continue;
    cleanedUp++;
    await sink.add(evaluation(id, 'NOT_APPLICABLE', 'not seen by the latest sweep: gone or no longer an EKS node'));
  }
  await sink.flush();
  return { swept: seen.size, cleanedUp };
}
