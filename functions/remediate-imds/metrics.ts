import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { NotificationDeliveryError, type RemediationResult } from './remediator.ts';

/**
 * The remediation's EMF metrics, whatever delivers the event: `Remediations` by `Outcome`, and
 * `SecondsToVerifiedFix` by `Path` (from the event's time to the read that verified the change).
 * Each goes out as its own EMF document, so records of one batch never share dimensions.
 */
export function countResult(metrics: Pick<Metrics, 'singleMetric'>, result: RemediationResult): void {
  countOutcome(metrics, result.outcome);
  if (result.secondsToVerifiedFix !== undefined) {
    const single = metrics.singleMetric();
    single.addDimension('Path', result.path);
    single.addMetric('SecondsToVerifiedFix', MetricUnit.Seconds, result.secondsToVerifiedFix);
  }
}

/** `NotificationsUndelivered` when only the Publish failed (the retry re-sends it); otherwise `Remediations` with Outcome `error`. */
export function countFailure(metrics: Pick<Metrics, 'singleMetric'>, error: unknown): void {
  if (error instanceof NotificationDeliveryError) metrics.singleMetric().addMetric('NotificationsUndelivered', MetricUnit.Count, 1);
  else countOutcome(metrics, 'error');
}

function countOutcome(metrics: Pick<Metrics, 'singleMetric'>, outcome: string): void {
  const single = metrics.singleMetric();
  single.addDimension('Outcome', outcome);
  single.addMetric('Remediations', MetricUnit.Count, 1);
}
