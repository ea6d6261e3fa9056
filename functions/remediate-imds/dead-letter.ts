import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { InvalidEventError } from '../shared/errors.ts';

/** The attribute values stay readable in the console; the full event is the message body. */
const MAX_REASON_LENGTH = 1_000;

/**
 * An SQS record's body, which is the EventBridge event exactly as EventBridge delivered it.
 * A body that is not JSON can never succeed: it is an `InvalidEventError` like any bad event.
 */
export function parseRecordBody(record: Pick<SQSRecord, 'body'>): unknown {
  try {
    return JSON.parse(record.body);
  } catch (error) {
    throw new InvalidEventError([`SQS message body is not JSON (${(error as Error).message})`]);
  }
}

/**
 * Moves a message that can never succeed to the dead-letter queue at once, with its reason in
 * message attributes, instead of letting SQS redeliver it until maxReceiveCount. Throws if the
 * send fails, so the message stays on the queue and is retried rather than lost.
 */
export async function sendToDeadLetterQueue(
  sqs: Pick<SQSClient, 'send'>,
  queueUrl: string,
  record: Pick<SQSRecord, 'body' | 'messageId' | 'attributes'>,
  reason: InvalidEventError,
): Promise<void> {
  const text = (value: string) => ({ DataType: 'String', StringValue: value });
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: record.body,
      MessageAttributes: {
        reason: text(reason.name),
        problems: text(truncate(reason.problems.join('; ') || reason.message)),
        sourceMessageId: text(record.messageId),
        receiveCount: { DataType: 'Number', StringValue: record.attributes.ApproximateReceiveCount || '1' },
      },
    }),
  );
}

function truncate(value: string): string {
  return value.length <= MAX_REASON_LENGTH ? value : `${value.slice(0, MAX_REASON_LENGTH - 3)}...`;
}
