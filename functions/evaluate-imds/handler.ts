import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { EC2Client } from '@aws-sdk/client-ec2';
import type { Context } from 'aws-lambda';
import { CLIENT_DEFAULTS } from '../shared/clients.ts';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics } from '../shared/telemetry.ts';
import { evaluateRuleEvent, type EvaluationSummary } from './evaluator.ts';

// Created once per execution environment and reused across invocations.
const ec2 = new EC2Client(CLIENT_DEFAULTS);
const config = new ConfigServiceClient(CLIENT_DEFAULTS);

/** AWS Config custom rule entry point. A thrown error shows in Config as the rule's error. */
export async function handler(event: unknown, context?: Context): Promise<EvaluationSummary> {
  if (context) logger.addContext(context);
  try {
    const summary = await evaluateRuleEvent(event, { ec2, config, logger });
    publishEvaluationMetrics(summary);
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

function publishEvaluationMetrics(summary: EvaluationSummary): void {
  for (const [complianceType, count] of Object.entries(summary.counts)) {
    const metric = metrics.singleMetric();
    metric.addDimension('ComplianceType', complianceType);
    metric.addMetric('Evaluations', MetricUnit.Count, count);
  }
  if (summary.swept !== undefined) metrics.addMetric('SweepInstances', MetricUnit.Count, summary.swept);
  if (summary.cleanedUp !== undefined) metrics.addMetric('StaleResultsCleaned', MetricUnit.Count, summary.cleanedUp);
}
