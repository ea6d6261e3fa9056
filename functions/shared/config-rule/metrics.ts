import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { EvaluationSummary } from './evaluator.ts';

/**
 * The EMF metrics every rule emits for an invocation: `Evaluations` written (and billed) by
 * `ComplianceType`, and for a sweep `SweepInstances`, `UnchangedResultsSkipped` and `StaleResultsCleaned`.
 */
export function publishEvaluationMetrics(metrics: Pick<Metrics, 'singleMetric' | 'addMetric'>, summary: EvaluationSummary): void {
  for (const [complianceType, count] of Object.entries(summary.counts)) {
    const metric = metrics.singleMetric();
    metric.addDimension('ComplianceType', complianceType);
    metric.addMetric('Evaluations', MetricUnit.Count, count);
  }
  if (summary.swept !== undefined) metrics.addMetric('SweepInstances', MetricUnit.Count, summary.swept);
  if (summary.unchanged !== undefined) metrics.addMetric('UnchangedResultsSkipped', MetricUnit.Count, summary.unchanged);
  if (summary.cleanedUp !== undefined) metrics.addMetric('StaleResultsCleaned', MetricUnit.Count, summary.cleanedUp);
}
