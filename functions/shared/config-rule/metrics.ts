import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { EvaluationSummary } from './evaluator.ts';

/**
 * The EMF metrics every rule emits for an invocation: `Evaluations` written (and billed) by
 * `ComplianceType`, and for a sweep `SweepInstances`, `UnchangedResultsSkipped`, `StaleResultsCleaned`
 * and `RecordedContinuously` by `ResourceType` (1 continuous, 0 daily, not recorded or recorder
 * stopped or absent; nothing when the recorder could not be read): an alarm on `< 1` says change
 * triggers are late or missing and only the sweep keeps results current.
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
  for (const coverage of summary.recorder ?? []) {
    if (coverage.recording === 'unknown') continue;
    const metric = metrics.singleMetric();
    metric.addDimension('ResourceType', coverage.resourceType);
    metric.addMetric('RecordedContinuously', MetricUnit.Count, coverage.recording === 'continuous' ? 1 : 0);
  }
}
