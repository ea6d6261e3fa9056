import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import {
  paginateGetComplianceDetailsByConfigRule,
  type ConfigServiceClient,
  type Evaluation,
} from '@aws-sdk/client-config-service';
import { annotate } from '../shared/annotation.ts';
import type { DebugLogger } from '../shared/clients.ts';
import { factsFromConfigurationItem, factsFromEc2Instance } from '../shared/instance.ts';
import { judgeInstance, type ComplianceType, type Judgement } from '../shared/judge.ts';
import { parseRuleParameters, type RuleParameters } from '../shared/parameters.ts';
import { sweepEksNodes } from '../shared/sweep.ts';
import { parseRuleInvocation, type ItemSummary, type RuleInvocation } from './config-event.ts';
import { EvaluationSink } from './evaluation-sink.ts';

export const RESOURCE_TYPE = 'AWS::EC2::Instance';
const APPLICABLE_STATUSES = new Set(['OK', 'ResourceDiscovered']);

export interface EvaluatorDeps {
  readonly ec2: Pick<EC2Client, 'send'>;
  readonly config: Pick<ConfigServiceClient, 'send'>;
  readonly logger: DebugLogger;
  readonly sinkOptions?: { maxInFlight?: number; maxAttempts?: number; sleep?: (ms: number) => Promise<void> };
}

export interface EvaluationSummary {
  readonly trigger: RuleInvocation['trigger']['kind'];
  readonly counts: Record<ComplianceType, number>;
  /** Instances the sweep read (scheduled only). */
  readonly swept?: number;
  /** Earlier results turned NOT_APPLICABLE because the sweep no longer saw them. */
  readonly cleanedUp?: number;
  readonly testMode: boolean;
}

/**
 * The AWS Config protocol around the IMDS judgement: parse and validate, decide applicability,
 * evaluate, deliver in batches, clean up after a sweep. Nothing is written unless the event and
 * the parameters are valid.
 */
export async function evaluateRuleEvent(event: unknown, deps: EvaluatorDeps): Promise<EvaluationSummary> {
  const invocation = parseRuleInvocation(event);
  const params = parseRuleParameters(invocation.rawRuleParameters);
  const sink = new EvaluationSink({
    config: deps.config,
    resultToken: invocation.resultToken,
    testMode: invocation.testMode,
    ...deps.sinkOptions,
  });
  try {
    return await evaluateTrigger(invocation, params, sink, deps);
  } catch (error) {
    await sink.settle();
    throw error;
  }
}

async function evaluateTrigger(
  invocation: RuleInvocation,
  params: RuleParameters,
  sink: EvaluationSink,
  deps: EvaluatorDeps,
): Promise<EvaluationSummary> {
  const { trigger } = invocation;

  if (trigger.kind === 'scheduled') {
    const { swept, cleanedUp } = await sweepAndCleanUp(invocation.configRuleName, trigger.notificationTime, params, sink, deps);
    return { trigger: trigger.kind, counts: sink.counts, swept, cleanedUp, testMode: invocation.testMode };
  }

  const { item } = trigger;
  const outOfScope = scopeProblem(item, invocation.eventLeftScope);
  if (outOfScope !== undefined) {
    await sink.add(evaluation(item.resourceId, 'NOT_APPLICABLE', outOfScope, item.captureTime, item.resourceType));
  } else {
    const judgement =
      trigger.kind === 'change'
        ? judgeInstance(factsFromConfigurationItem(item.resourceId, trigger.item.configuration, trigger.item.tags), params)
        : await judgeCurrentInstance(item.resourceId, params, deps.ec2);
    logJudgement(deps.logger, judgement);
    await sink.add(evaluation(item.resourceId, judgement.compliance, annotate(judgement), item.captureTime));
  }
  await sink.flush();
  return { trigger: trigger.kind, counts: sink.counts, testMode: invocation.testMode };
}

function scopeProblem(item: ItemSummary, eventLeftScope: boolean): string | undefined {
  if (item.resourceType !== RESOURCE_TYPE) return `resource type ${item.resourceType} is not ${RESOURCE_TYPE}`;
  if (eventLeftScope) return 'resource left the rule scope';
  if (!APPLICABLE_STATUSES.has(item.status)) return `configuration item status is ${item.status}`;
  return undefined;
}

/** Oversized items carry no configuration: read the instance as it is now. */
async function judgeCurrentInstance(
  instanceId: string,
  params: RuleParameters,
  ec2: Pick<EC2Client, 'send'>,
): Promise<Judgement> {
  try {
    const response = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId], IncludeManagedResources: true }));
    const instance = response.Reservations?.[0]?.Instances?.[0];
    if (instance !== undefined) return judgeInstance(factsFromEc2Instance(instance), params);
  } catch (error) {
    if ((error as Error).name !== 'InvalidInstanceID.NotFound') throw error;
  }
  return { compliance: 'NOT_APPLICABLE', instanceId, node: undefined, reason: 'instance-gone', detail: 'instance no longer exists' };
}

async function sweepAndCleanUp(
  configRuleName: string,
  notificationTime: Date,
  params: RuleParameters,
  sink: EvaluationSink,
  deps: EvaluatorDeps,
): Promise<{ swept: number; cleanedUp: number }> {
  let swept = 0;
  for await (const page of sweepEksNodes(deps.ec2, params)) {
    for (const { judgement } of page) {
      swept++;
      logJudgement(deps.logger, judgement);
      await sink.add(evaluation(judgement.instanceId, judgement.compliance, annotate(judgement), notificationTime));
    }
  }
  await sink.flush();

  // Every instance the sweep saw now carries this sweep's timestamp; a COMPLIANT or
  // NON_COMPLIANT result older than that belongs to an instance that is gone or no longer a
  // node, and would otherwise stay in the dashboard forever. Comparing timestamps instead of
  // remembering every id keeps the sweep's memory flat.
  const stale: string[] = [];
  const pages = paginateGetComplianceDetailsByConfigRule(
    { client: deps.config as ConfigServiceClient, pageSize: 100 },
    { ConfigRuleName: configRuleName, ComplianceTypes: ['COMPLIANT', 'NON_COMPLIANT'] },
  );
  for await (const page of pages) {
    for (const result of page.EvaluationResults ?? []) {
      const qualifier = result.EvaluationResultIdentifier?.EvaluationResultQualifier;
      const ordering = result.EvaluationResultIdentifier?.OrderingTimestamp;
      if (qualifier?.ResourceType !== RESOURCE_TYPE || qualifier.ResourceId === undefined) continue;
      if (ordering !== undefined && ordering.getTime() >= notificationTime.getTime()) continue;
      stale.push(qualifier.ResourceId);
    }
  }
  // Collected first, written after: writing while paging would change the pages being read.
  for (const resourceId of stale) {
    await sink.add(evaluation(resourceId, 'NOT_APPLICABLE', 'not seen by the latest sweep: gone or no longer an EKS node', notificationTime));
  }
  await sink.flush();
  deps.logger.info('sweep finished', { swept, cleanedUp: stale.length, counts: sink.counts });
  return { swept, cleanedUp: stale.length };
}

function evaluation(
  resourceId: string,
  compliance: ComplianceType,
  annotation: string,
  orderingTimestamp: Date,
  resourceType: string = RESOURCE_TYPE,
): Evaluation {
  return {
    ComplianceResourceType: resourceType,
    ComplianceResourceId: resourceId,
    ComplianceType: compliance,
    Annotation: annotation,
    OrderingTimestamp: orderingTimestamp,
  };
}

function logJudgement(logger: DebugLogger, judgement: Judgement): void {
  logger.debug('judged instance', {
    instanceId: judgement.instanceId,
    compliance: judgement.compliance,
    cluster: judgement.node?.cluster,
    nodeKind: judgement.node?.kind,
  });
}
