import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { EC2Client } from '@aws-sdk/client-ec2';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { CLIENT_DEFAULTS } from '../shared/clients.ts';
import type { EvaluationSummary } from '../shared/config-rule/evaluator.ts';
import { handleRuleEvent } from '../shared/config-rule/handler.ts';
import { logger } from '../shared/telemetry.ts';
import { createInstanceRule } from './rule.ts';

// Created once per execution environment and reused across invocations.
const ec2 = new EC2Client(CLIENT_DEFAULTS);
const config = new ConfigServiceClient(CLIENT_DEFAULTS);
const rule = createInstanceRule({ ec2, logger });

/** AWS Config custom rule entry point. A thrown error shows in Config as the rule's error. */
export function handler(event: unknown, context?: Context): Promise<EvaluationSummary> {
  return handleRuleEvent(event, context, () => rule, { config }, (summary, metrics) => {
    if (summary.swept === undefined) return;
    // Exempt nodes stay NON_COMPLIANT in Config; these say how many the sweep found exempt, and
    // how many exemption tags it ignored (no, bad, past or too distant expiry).
    const { exempt, ignored } = rule.lastSweepExemptions();
    metrics.addMetric('ExemptNodes', MetricUnit.Count, exempt);
    metrics.addMetric('ExemptionsIgnored', MetricUnit.Count, ignored);
  });
}
