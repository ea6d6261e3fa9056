import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { sqsInvocation } from './invocations.ts';

// What AWS does between the rule and the remediation function: EventBridge's SQS target and
// Lambda's SQS event source mapping, driven through the SQS API so the same code runs against the
// emulator and an external endpoint (moto, LocalStack). Used by the end-to-end suite and the demo.

/** The remediation queue and its dead-letter queue as the templates declare them. */
export interface RemediationQueues {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly deadLetterQueueUrl: string;
}

/** RemediationQueue's settings in template.yaml: 6 x the 120 s timeout, redrive after 5 receives. */
export const VISIBILITY_TIMEOUT_SECONDS = 720;
export const MAX_RECEIVE_COUNT = 5;

export async function createRemediationQueues(sqs: SQSClient, prefix = 'eks-imds-guard-e2e'): Promise<RemediationQueues> {
  const dead = await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-failures`, Attributes: { MessageRetentionPeriod: '1209600' } }));
  const deadLetterQueueUrl = dead.QueueUrl ?? '';
  const deadArn = await queueArnOf(sqs, deadLetterQueueUrl);
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${prefix}-remediation`,
      Attributes: {
        VisibilityTimeout: String(VISIBILITY_TIMEOUT_SECONDS),
        MessageRetentionPeriod: '1209600',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadArn, maxReceiveCount: MAX_RECEIVE_COUNT }),
      },
    }),
  );
  const queueUrl = queue.QueueUrl ?? '';
  return { queueUrl, queueArn: await queueArnOf(sqs, queueUrl), deadLetterQueueUrl };
}

async function queueArnOf(sqs: SQSClient, queueUrl: string): Promise<string> {
  const attributes = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return attributes.Attributes?.['QueueArn'] ?? '';
}

/** EventBridge's SQS target: one message per event, the event's JSON as the body. */
export async function sendEvents(sqs: SQSClient, queueUrl: string, events: readonly unknown[]): Promise<void> {
  for (const event of events) await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(event) }));
}

export interface PollResult {
  readonly received: number;
  readonly failed: number;
  /** The handler threw: nothing was deleted, the whole batch comes back after the visibility timeout. */
  readonly threw: boolean;
}

type QueueHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * One poll of an SQS event source mapping with ReportBatchItemFailures: receive up to `batchSize`
 * messages, invoke the function with them, delete those not reported as failures.
 */
export async function pollOnce(sqs: SQSClient, queues: RemediationQueues, handler: QueueHandler, context: Context, batchSize = 1): Promise<PollResult> {
  const { Messages: messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queues.queueUrl,
      MaxNumberOfMessages: batchSize,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  if (messages.length === 0) return { received: 0, failed: 0, threw: false };
  let failedIds: Set<string>;
  try {
    const response = await handler(sqsInvocation(messages, queues.queueArn), context);
    failedIds = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
  } catch {
    return { received: messages.length, failed: messages.length, threw: true };
  }
  for (const message of messages) {
    if (failedIds.has(message.MessageId ?? '')) continue;
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queues.queueUrl, ReceiptHandle: message.ReceiptHandle }));
  }
  return { received: messages.length, failed: failedIds.size, threw: false };
}

/** Polls until a receive comes back empty (failed messages stay invisible until their timeout). */
export async function drainQueue(sqs: SQSClient, queues: RemediationQueues, handler: QueueHandler, context: () => Context, batchSize = 1): Promise<PollResult> {
  let total = { received: 0, failed: 0, threw: false };
  for (;;) {
    const poll = await pollOnce(sqs, queues, handler, context(), batchSize);
    if (poll.received === 0) return total;
    total = { received: total.received + poll.received, failed: total.failed + poll.failed, threw: total.threw || poll.threw };
  }
}

/** Every message on a queue now (for the dead-letter queue: what a person would find there). */
export async function peekAll(sqs: SQSClient, queueUrl: string): Promise<{ body: string; attributes: Record<string, string | undefined> }[]> {
  const { Messages: messages = [] } = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], VisibilityTimeout: 0 }),
  );
  return messages.map((m) => ({
    body: m.Body ?? '',
    attributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([name, value]) => [name, value.StringValue])),
  }));
}
