import type { Context } from 'aws-lambda';
import { logger, metrics } from '../telemetry.ts';
import { evaluateRuleEvent, type EvaluationSummary, type EvaluatorDeps } from './evaluator.ts';
import { publishEvaluationMetrics } from './metrics.ts';
import type { ConfigRule } from './rule.ts';

/**
 * What every rule's Lambda entry point does around the protocol: log context, evaluate, one INFO
 * line and the EMF metrics, the error logged and re-thrown (Config shows it as the rule's error).
 * The rule comes from a factory so a deployment error in building it is reported the same way.
 */
export async function handleRuleEvent<P>(
  event: unknown,
  context: Context | undefined,
  rule: () => ConfigRule<P>,
  deps: EvaluatorDeps,
  /** A rule's own metrics, added before they are flushed. */
  ruleMetrics?: (summary: EvaluationSummary, into: Pick<typeof metrics, 'addMetric'>) => void,
): Promise<EvaluationSummary> {
  if (context) logger.addContext(context);
  try {
    const summary = await evaluateRuleEvent(event, rule(), deps);
    publishEvaluationMetrics(metrics, summary);
    ruleMetrics?.(summary, metrics);
    logger.info('evaluation delivered', { ...summary });
    return summary;
  } catch (error) {
    logger.error('evaluation failed', error as Error);
    throw error;
  } finally {
    // Counts go out as single metrics (one per dimension value); flush only what is left.
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
}
