import type { ConfigServiceClient, Evaluation } from '@aws-sdk/client-config-service';
import { parseRuleInvocation, type ItemSummary, type RuleInvocation } from './config-event.ts';
import { EvaluationSink, type RejectedEvaluation } from './evaluation-sink.ts';
import { PreviousResults } from './previous-results.ts';
import { describeRecorderCoverage, type RecorderCoverage } from './recorder.ts';
import type { ComplianceType, ConfigRule, Verdict } from './rule.ts';

const APPLICABLE_STATUSES = new Set(['OK', 'ResourceDiscovered']);

export interface EvaluatorDeps {
  readonly config: Pick<ConfigServiceClient, 'send'>;
  readonly sinkOptions?: { maxInFlight?: number; maxAttempts?: number; sleep?: (ms: number) => Promise<void> };
  /** Sweep verdicts held while the listing of earlier results is still under way (memory bound). */
  readonly maxHeldVerdicts?: number;
}

export interface EvaluationSummary {
  readonly trigger: RuleInvocation['trigger']['kind'];
  /** Evaluations AWS Config accepted (and bills), by compliance type. */
  readonly counts: Record<ComplianceType, number>;
  /** Resources the sweep judged (scheduled only). */
  readonly swept?: number;
  /** Sweep verdicts not written because Config already holds the same result (scheduled only). */
  readonly unchanged?: number;
  /** Earlier results turned NOT_APPLICABLE because the sweep no longer saw them. */
  readonly cleanedUp?: number;
  /** Evaluations whose annotation Config refused, delivered with the sink's fallback annotation (only when any). */
  readonly replacedAnnotations?: readonly RejectedEvaluation[];
  /** How AWS Config records each of the rule's resource types (scheduled only): what change triggers to expect. */
  readonly recorder?: readonly RecorderCoverage[];
  readonly testMode: boolean;
}

/**
 * The AWS Config protocol around any rule: parse and validate, decide applicability, evaluate,
 * deliver in batches, and after a sweep write only what changed and clean up what is gone.
 * Nothing is written unless the event and the parameters are valid.
 */
export async function evaluateRuleEvent<P>(event: unknown, rule: ConfigRule<P>, deps: EvaluatorDeps): Promise<EvaluationSummary> {
  const invocation = parseRuleInvocation(event);
  const params = rule.parseParameters(invocation.rawRuleParameters);
  const sink = new EvaluationSink({
    config: deps.config,
    resultToken: invocation.resultToken,
    testMode: invocation.testMode,
    ...deps.sinkOptions,
  });
  try {
    return await evaluateTrigger(invocation, rule, params, sink, deps);
  } catch (error) {
    await sink.settle();
    throw error;
  }
}

async function evaluateTrigger<P>(
  invocation: RuleInvocation,
  rule: ConfigRule<P>,
  params: P,
  sink: EvaluationSink,
  deps: EvaluatorDeps,
): Promise<EvaluationSummary> {
  const { trigger } = invocation;

  if (trigger.kind === 'scheduled') {
    // Read beside the sweep, off its critical path; it never throws (an unreadable recorder is `unknown`).
    const coverage = describeRecorderCoverage(deps.config, rule.resourceTypes);
    try {
      const sweep = await sweepAndCleanUp(invocation.configRuleName, trigger.notificationTime, rule, params, sink, deps);
      return { trigger: trigger.kind, counts: sink.counts, ...sweep, ...replaced(sink), recorder: await coverage, testMode: invocation.testMode };
    } finally {
      // A failed sweep still lets the read settle: nothing is left in flight when the invocation ends.
      await coverage;
    }
  }

  const { item } = trigger;
  const outOfScope = scopeProblem(item, rule.resourceTypes, invocation.eventLeftScope);
  const verdict: Verdict =
    outOfScope !== undefined
      ? { resourceType: item.resourceType, resourceId: item.resourceId, compliance: 'NOT_APPLICABLE', annotation: outOfScope }
      : trigger.kind === 'change'
        ? await rule.evaluateChange(trigger.item, params)
        : await rule.evaluateOversized(item, params);
  await sink.add(evaluation(verdict, item.captureTime));
  await sink.flush();
  return { trigger: trigger.kind, counts: sink.counts, ...replaced(sink), testMode: invocation.testMode };
}

function replaced(sink: EvaluationSink): Pick<EvaluationSummary, 'replacedAnnotations'> {
  return sink.replaced.length > 0 ? { replacedAnnotations: [...sink.replaced] } : {};
}

function scopeProblem(item: ItemSummary, resourceTypes: readonly string[], eventLeftScope: boolean): string | undefined {
  if (!resourceTypes.includes(item.resourceType)) return `resource type ${item.resourceType} is not ${resourceTypes.join(' or ')}`;
  if (eventLeftScope) return 'resource left the rule scope';
  if (!APPLICABLE_STATUSES.has(item.status)) return `configuration item status is ${item.status}`;
  return undefined;
}

const STALE_ANNOTATION = 'not seen by the latest sweep: gone or no longer in the rule scope';

/**
 * The sweep and the listing of the rule's earlier results run side by side, and only what
 * differs from what Config holds is written (AWS Config bills every evaluation it records, an
 * unchanged re-put included):
 * - a verdict whose earlier result is already listed is decided at once: written when its
 *   compliance type or annotation differ, dropped when they are the same;
 * - a verdict the listing has not reached yet is held until it does, or until the listing ends
 *   (then it is new and written). Held verdicts are bounded: past `maxHeldVerdicts` the sweep
 *   waits for the listing, so memory never holds the fleet's annotations;
 * - what is left of the listing once both end was not seen: a COMPLIANT or NON_COMPLIANT result
 *   older than the grace is reported NOT_APPLICABLE.
 * The listing keeps a fingerprint per earlier result (tens of bytes); a matched one is dropped.
 */
async function sweepAndCleanUp<P>(
  configRuleName: string,
  notificationTime: Date,
  rule: ConfigRule<P>,
  params: P,
  sink: EvaluationSink,
  deps: EvaluatorDeps,
): Promise<{ swept: number; unchanged: number; cleanedUp: number }> {
  const previous = new PreviousResults({
    configRuleName,
    resourceTypes: rule.resourceTypes,
    staleBefore: new Date(notificationTime.getTime() - STALE_GRACE_MS),
    config: deps.config,
    maxHeld: deps.maxHeldVerdicts ?? DEFAULT_MAX_HELD_VERDICTS,
    write: (verdict) => sink.add(evaluation(verdict, notificationTime)),
  });
  const listing = previous.list();
  let swept = 0;
  const sweep = (async () => {
    for await (const page of rule.sweep(params, notificationTime)) {
      for (const verdict of page) {
        swept++;
        await previous.offer(verdict);
      }
    }
  })().catch((error: unknown) => {
    // A failed sweep ends the invocation: the listing stops at its next page.
    previous.stop();
    throw error;
  });

  // Settled, not raced: a failed listing must not leave the sweep writing in the background.
  const [sweepResult, listingResult] = await Promise.allSettled([sweep, listing]);
  if (sweepResult.status === 'rejected') throw sweepResult.reason;
  if (listingResult.status === 'rejected') {
    // The sweep's verdicts are sound without the comparison: deliver every held one, then fail.
    await previous.writeHeld();
    await sink.flush();
    throw listingResult.reason;
  }

  await previous.writeHeld();
  let cleanedUp = 0;
  for (const { resourceType, resourceId } of previous.stale()) {
    cleanedUp++;
    await sink.add(
      evaluation({ resourceType, resourceId, compliance: 'NOT_APPLICABLE', annotation: STALE_ANNOTATION }, notificationTime),
    );
  }
  // One flush for the sweep's last partial batch and the stale results together.
  await sink.flush();
  return { swept, unchanged: previous.unchanged, cleanedUp };
}

/**
 * A result recorded this shortly before the sweep is kept even when the sweep did not see its
 * resource: EC2's Describe calls are eventually consistent, and a node launched seconds before the
 * sweep may not be listed yet. A resource that is really gone is retired by the next sweep (and
 * Config reports its deletion on its own).
 */
const STALE_GRACE_MS = 5 * 60_000;

/** About 0.5 KB each: ten thousand held verdicts are a few MB, whatever the fleet size. */
const DEFAULT_MAX_HELD_VERDICTS = 10_000;

function evaluation(verdict: Verdict, orderingTimestamp: Date): Evaluation {
  return {
    ComplianceResourceType: verdict.resourceType,
    ComplianceResourceId: verdict.resourceId,
    ComplianceType: verdict.compliance,
    Annotation: verdict.annotation,
    OrderingTimestamp: orderingTimestamp,
  };
}
