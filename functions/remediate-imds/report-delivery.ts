import { createHash } from 'node:crypto';
import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PublishCommand, type MessageAttributeValue, type SNSClient } from '@aws-sdk/client-sns';
import type { RemediationConfig } from './config.ts';

/**
 * Every report also goes on the account's default event bus: a member stack forwards these events
 * to a central bus, where EventBridge's `account` field, which no sender can set, says who sent it.
 */
export const REPORT_EVENT = { source: 'eks-imds-guard', detailType: 'IMDS Remediation Report' } as const;

/** A report as every remediation kind renders it: already cleaned of untrusted text. */
export interface RenderedReport {
  /** ASCII, one line, under 100 characters, account and region first. */
  readonly subject: string;
  readonly message: string;
  /** The JSON details: the EventBridge event's `detail`. */
  readonly details: string;
  /** SNS message attributes for subscription filter policies. */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface ReportDeliveryDeps {
  readonly sns: Pick<SNSClient, 'send'>;
  readonly events: Pick<EventBridgeClient, 'send'>;
  readonly config: Pick<RemediationConfig, 'topicArn' | 'fifoTopic'>;
}

/**
 * The one way a remediation report leaves the function, whatever kind of resource it is about:
 * SNS when a topic is configured, and the default event bus always. Throws what failed, for the
 * caller to fail its queue message (SQS redelivers it; the caller's ledger decides what the retry
 * sends again).
 */
export async function deliverReport(
  deps: ReportDeliveryDeps,
  rendered: RenderedReport,
  ids: { readonly eventId: string; readonly groupId: string },
): Promise<void> {
  if (deps.config.topicArn !== undefined) {
    const attributes: Record<string, MessageAttributeValue> = {};
    for (const [name, value] of Object.entries(rendered.attributes)) attributes[name] = { DataType: 'String', StringValue: value };
    await deps.sns.send(
      new PublishCommand({
        TopicArn: deps.config.topicArn,
        Subject: rendered.subject,
        Message: rendered.message,
        MessageAttributes: attributes,
        // FIFO topics need a group and drop a repeated deduplication id within 5 minutes.
        ...(deps.config.fifoTopic
          ? { MessageGroupId: ids.groupId.slice(0, 128), MessageDeduplicationId: createHash('sha256').update(ids.eventId).digest('hex') }
          : {}),
      }),
    );
  }
  const put = await deps.events.send(
    new PutEventsCommand({ Entries: [{ Source: REPORT_EVENT.source, DetailType: REPORT_EVENT.detailType, Detail: rendered.details }] }),
  );
  if ((put.FailedEntryCount ?? 0) > 0) {
    const entry = put.Entries?.[0];
    throw Object.assign(new Error(`PutEvents refused the report: ${entry?.ErrorCode ?? 'unknown'} ${entry?.ErrorMessage ?? ''}`.trim()), {
      name: entry?.ErrorCode ?? 'PutEventsFailedEntry',
    });
  }
}
