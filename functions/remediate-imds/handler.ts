import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { CLIENT_DEFAULTS } from '../shared/clients.ts';
import { logger, metrics } from '../shared/telemetry.ts';
import { accountIdFromFunctionArn, loadRemediationConfig, type RemediationConfig } from './config.ts';
import { countFailure, countResult } from './metrics.ts';
import { remediateEvent, type RemediationResult } from './remediator.ts';

// Created once per execution environment and reused across invocations.
const ec2 = new EC2Client(CLIENT_DEFAULTS);
const cloudwatch = new CloudWatchClient(CLIENT_DEFAULTS);
const sqs = new SQSClient(CLIENT_DEFAULTS);
// In the topic's region, which may differ from the function's (a central topic): created with
// the configuration, once.
let sns: SNSClient | undefined;
let config: RemediationConfig | undefined;

/** EventBridge target for this rule's "Config Rules Compliance Change" events and EC2 launches ("running"). */
export async function handler(event: unknown, context: Context): Promise<RemediationResult> {
  logger.addContext(context);
  try {
    // Parsed on the first invocation rather than at import, so a bad value is reported as the
    // invocation's error (with every problem listed) instead of an init failure.
    config ??= loadRemediationConfig(process.env);
    sns ??= new SNSClient({ ...CLIENT_DEFAULTS, region: config.topicRegion });
    const result = await remediateEvent(event, {
      ec2,
      cloudwatch,
      sns,
      sqs,
      config,
      accountId: accountIdFromFunctionArn(context.invokedFunctionArn),
      logger,
      remainingTimeMs: () => context.getRemainingTimeInMillis(),
    });
    countResult(metrics, result);
    logger.info('remediation finished', { ...result, mode: config.mode });
    return result;
  } catch (error) {
    countFailure(metrics, error);
    logger.error('remediation failed', error as Error);
    throw error;
  } finally {
    metrics.publishStoredMetrics();
  }
}
