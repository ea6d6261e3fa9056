import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { CLIENT_DEFAULTS } from '../shared/clients.ts';
import { InvalidEventError } from '../shared/errors.ts';
import { logger, metrics } from '../shared/telemetry.ts';
import { accountIdFromFunctionArn, loadRemediationConfig, type RemediationConfig } from './config.ts';
import { parseRecordBody, sendToDeadLetterQueue } from './dead-letter.ts';
import { NotificationDeliveryError, remediateEvent, type ApplyEstimate, type RemediationResult } from './remediator.ts';
import { isSourceEvent, remediateSourceEvent, sourcesRuleName, type SourceRemediationResult } from './source-remediator.ts';

// Created once per execution environment and reused across invocations.
const ec2 = new EC2Client(CLIENT_DEFAULTS);
const cloudwatch = new CloudWatchClient(CLIENT_DEFAULTS);
const autoscaling = new AutoScalingClient(CLIENT_DEFAULTS);
const sqs = new SQSClient(CLIENT_DEFAULTS);
const processor = new BatchProcessor(EventType.SQS);
const events = new EventBridgeClient(CLIENT_DEFAULTS);
// How long EC2 took to apply recent changes, as this execution environment saw them.
const applyEstimate: ApplyEstimate = { ms: undefined };
// In the topic's region, which may differ from the function's (a central topic): created with
// the configuration, once.
let sns: SNSClient | undefined;
let config: RemediationConfig | undefined;

/**
 * Consumes the remediation queue (an SQS event source mapping with ReportBatchItemFailures).
 * Each record's body is an event as EventBridge delivered it: a "Config Rules Compliance Change"
 * of this rule, or an "EC2 Instance State-change Notification" for `running` (possibly sent back
 * by this function as a delayed re-look).
 * A record that throws fails alone and SQS redelivers it after the visibility timeout;
 * one that can never succeed is moved to the dead-letter queue at once and reported as done.
 */
export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  logger.addContext(context);
  // One record at a time: ModifyInstanceMetadataOptions refills at 5/s per account and region,
  // and the event source mapping's MaximumConcurrency is sized for one call in flight per invocation.
  return processPartialResponse(event, (record: SQSRecord) => handleRecord(record, context), processor, {
    context,
    processInParallel: false,
  });
}

async function handleRecord(record: SQSRecord, context: Context): Promise<RemediationResult | SourceRemediationResult | undefined> {
  const messageId = record.messageId;
  try {
    // Parsed on the first record rather than at import, so a bad value is reported as the
    // record's error (with every problem listed) instead of an init failure.
    config ??= loadRemediationConfig(process.env);
    sns ??= new SNSClient({ ...CLIENT_DEFAULTS, region: config.topicRegion });
    const body = parseRecordBody(record);
    const accountId = accountIdFromFunctionArn(context.invokedFunctionArn);
    // The sources rule's events (groups, templates, the account defaults) share the queue and the pipeline.
    const result = isSourceEvent(body)
      ? await remediateSourceEvent(body, { ec2, autoscaling, sns, events, config, sourcesRuleName: sourcesRuleName(process.env), accountId, logger })
      : await remediateEvent(body, {
          ec2,
          cloudwatch,
          sns,
          events,
          sqs,
          config,
          applyEstimate,
          accountId,
          logger,
          remainingTimeMs: () => context.getRemainingTimeInMillis(),
        });
    countOutcome(result.outcome);
    countTimeToFix(result);
    logger.info('remediation finished', { ...result, mode: config.mode, messageId });
    return result;
  } catch (error) {
    if (error instanceof InvalidEventError && config !== undefined) {
      // A retry would refuse it the same way: straight to the dead-letter queue, nothing touched.
      try {
        await sendToDeadLetterQueue(sqs, config.deadLetterQueueUrl, record, error);
      } catch (sendError) {
        // The message stays on the queue (this record fails) rather than being lost.
        logger.error('refused message not moved to the dead-letter queue', { messageId, reason: error.message, error: sendError as Error });
        throw sendError;
      }
      countOutcome('dead-lettered');
      logger.warn('message moved to the dead-letter queue', { messageId, reason: error.message });
      return undefined;
    }
    if (error instanceof NotificationDeliveryError) {
      metrics.singleMetric().addMetric('NotificationsUndelivered', MetricUnit.Count, 1);
    } else {
      countOutcome('error');
    }
    logger.error('remediation failed', { messageId, error: error as Error });
    throw error;
  }
}

/** Seconds from the event's time to the read that verified this message's fix, by path (`state-change`, `config`). */
function countTimeToFix(result: RemediationResult | SourceRemediationResult): void {
  // Sources (templates, groups, account defaults) have no instance to verify: only instances count.
  if (!('secondsToVerifiedFix' in result) || result.secondsToVerifiedFix === undefined) return;
  const metric = metrics.singleMetric();
  metric.addDimension('Path', result.path);
  metric.addMetric('SecondsToCompliant', MetricUnit.Seconds, result.secondsToVerifiedFix);
}

/** One `Remediations` count per message, by outcome (`error` when it threw), published at once. */
function countOutcome(outcome: string): void {
  // A single metric per message: records of one batch may end differently.
  const metric = metrics.singleMetric();
  metric.addDimension('Outcome', outcome);
  metric.addMetric('Remediations', MetricUnit.Count, 1);
}
