import type { EC2Client } from '@aws-sdk/client-ec2';
import {
  paginateGetComplianceDetailsByConfigRule,
  type ConfigServiceClient,
  type Evaluation,
} from '@aws-sdk/client-config-service';
import { annotate } from '../shared/annotation.ts';
import type { DebugLogger } from '../shared/clients.ts';
import { describeOneInstance, EC2_INSTANCE } from '../shared/ec2.ts';
import { factsFromConfigurationItem, factsFromEc2Instance } from '../shared/instance.ts';
import { judgeInstance, type ComplianceType, type Judgement } from '../shared/judge.ts';
import { parseRuleParameters, type RuleParameters } from '../shared/parameters.ts';
import { sweepEksNodes } from '../shared/sweep.ts';
import { parseRuleInvocation, type ItemSummary, type RuleInvocation } from './config-event.ts';
import { EvaluationSink } from './evaluation-sink.ts';

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
  if (item.resourceType !== EC2_INSTANCE) return `resource type ${item.resourceType} is not ${EC2_INSTANCE}`;
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
    const instance = await describeOneInstance(ec2, instanceId);
    if (instance !== undefined) return judgeInstance(factsFromEc2Instance(instance), params);
  } catch (error) {
    if ((error as Error).name !== 'InvalidInstanceID.NotFound') throw error;
  }
  return { compliance: 'NOT_APPLICABLE', instanceId, node: undefined, reason: 'instance-gone', detail: 'instance no longer exists' };
}

const STALE_ANNOTATION = 'not seen by the latest sweep: gone or no longer an EKS node';

/**
 * The sweep and the cleanup listing run side by side: the listing of the rule's earlier
 * COMPLIANT and NON_COMPLIANT results (two chains, one per type, each paged 100 at a time)
 * overlaps the DescribeInstances pages instead of waiting for them. A result is stale when the
 * sweep did not see its instance AND its ordering timestamp is older than this sweep's: the
 * timestamp keeps a result that a change notification wrote during the sweep (say, for a node
 * launched after its page was read) from being wiped. The price is remembering the ids seen,
 * about 36 bytes a node.
 */
async function sweepAndCleanUp(
  configRuleName: string,
  notificationTime: Date,
  params: RuleParameters,
  sink: EvaluationSink,
  deps: EvaluatorDeps,
): Promise<{ swept: number; cleanedUp: number }> {
  const seen = new Set<string>();
  const stop = { requested: false };
  const sweep = (async () => {
    for await (const page of sweepEksNodes(deps.ec2, params)) {
      for (const judgement of page) {
        seen.add(judgement.instanceId);
        logJudgement(deps.logger, judgement);
        await sink.add(evaluation(judgement.instanceId, judgement.compliance, annotate(judgement), notificationTime));
      }
    }
  })().catch((error: unknown) => {
    // A failed sweep ends the invocation: the listings stop at their next page.
    stop.requested = true;
    throw error;
  });
  const listings = (['COMPLIANT', 'NON_COMPLIANT'] as const).map((complianceType) =>
    listOlderResults(configRuleName, complianceType, notificationTime, seen, deps.config, stop),
  );
  // Settled, not raced: a failed listing must not leave the sweep writing in the background.
  const [swept, ...listed] = await Promise.allSettled([sweep, ...listings]);
  if (swept.status === 'rejected') throw swept.reason;
  const failedListing = listed.find((result) => result.status === 'rejected');
  if (failedListing) {
    // The sweep's evaluations are sound without the cleanup: deliver them, then fail.
    await sink.flush();
    throw failedListing.reason;
  }

  let cleanedUp = 0;
  for (const listing of listings) {
    for (const resourceId of await listing) {
      if (seen.has(resourceId)) continue;
      cleanedUp++;
      await sink.add(evaluation(resourceId, 'NOT_APPLICABLE', STALE_ANNOTATION, notificationTime));
    }
  }
  // One flush for the sweep's last partial batch and the stale results together.
  await sink.flush();
  return { swept: seen.size, cleanedUp };
}

/**
 * A result recorded this shortly before the sweep is kept even when the sweep did not see its
 * instance: DescribeInstances is eventually consistent, and a node launched seconds before the
 * sweep may not be listed yet. A node that is really gone is retired by the next sweep (and
 * Config reports its deletion on its own).
 */
const STALE_GRACE_MS = 5 * 60_000;

/** Ids of this rule's results of one compliance type recorded before the sweep (and its grace). */
async function listOlderResults(
  configRuleName: string,
  complianceType: 'COMPLIANT' | 'NON_COMPLIANT',
  notificationTime: Date,
  seen: ReadonlySet<string>,
  config: Pick<ConfigServiceClient, 'send'>,
  stop: { readonly requested: boolean },
): Promise<string[]> {
  const cutoff = notificationTime.getTime() - STALE_GRACE_MS;
  const older: string[] = [];
  const pages = paginateGetComplianceDetailsByConfigRule(
    { client: config as ConfigServiceClient, pageSize: 100 },
    { ConfigRuleName: configRuleName, ComplianceTypes: [complianceType] },
  );
  for await (const page of pages) {
    if (stop.requested) break;
    for (const result of page.EvaluationResults ?? []) {
      const qualifier = result.EvaluationResultIdentifier?.EvaluationResultQualifier;
      const ordering = result.EvaluationResultIdentifier?.OrderingTimestamp;
      if (qualifier?.ResourceType !== EC2_INSTANCE || qualifier.ResourceId === undefined) continue;
      if (ordering !== undefined && ordering.getTime() >= cutoff) continue;
      // Already seen: not stale, and not worth keeping in memory.
      if (!seen.has(qualifier.ResourceId)) older.push(qualifier.ResourceId);
    }
  }
  return older;
}

function evaluation(
  resourceId: string,
  compliance: ComplianceType,
  annotation: string,
  orderingTimestamp: Date,
  resourceType: string = EC2_INSTANCE,
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
