import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { NotificationDeliveryError, type RemediationResult } from './remediator.ts';

type RemediationMetrics = Pick<Metrics, 'addDimension' | 'addMetric' | 'singleMetric'>;

/**
 * The remediation's EMF metrics: `Remediations` by `Outcome`, and `SecondsToVerifiedFix` by `Path`
 * (from the event's time to the read that verified the change). The latter goes out as its own
 * EMF document so that its dimension never mixes with the invocation's.
 */
export function countResult(metrics: RemediationMetrics, result: RemediationResult): void {
  countOutcome(metrics, result.outcome);
  if (result.secondsToVerifiedFix !== undefined) {
    const single = metrics.singleMetric();
    single.addDimension('Path', result.path);
    single.addMetric('SecondsToVerifiedFix', MetricUnit.Seconds, result.secondsToVerifiedFix);
  }
}

/** `NotificationsUndelivered` when only the Publish failed (the retry re-sends it); otherwise `Remediations` with Outcome `error`. */
export function countFailure(metrics: RemediationMetrics, error: unknown): void {
  if (error instanceof NotificationDeliveryError) metrics.addMetric('NotificationsUndelivered', MetricUnit.Count, 1);
  else countOutcome(metrics, 'error');
}

function countOutcome(metrics: RemediationMetrics, outcome: string): void {
  metrics.addDimension('Outcome', outcome);
  metrics.addMetric('Remediations', MetricUnit.Count, 1);
}
