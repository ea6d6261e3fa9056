import { PublishCommand } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../emulator/index.ts';
import { clientsFor, destroy, rejectionOf, type Clients } from './clients.ts';

let emulator: Emulator;
let clients: Clients;
let topicArn: string;

beforeAll(async () => {
  emulator = await startEmulator();
  clients = clientsFor(emulator, { maxAttempts: 1 });
  topicArn = emulator.createTopic('imds-remediation');
});

afterAll(async () => {
  destroy(clients);
  await emulator.close();
});

describe('SNS Publish', () => {
  it('records the message, subject and string attributes', async () => {
    const out = await clients.sns.send(
      new PublishCommand({
        TopicArn: topicArn,
        Subject: 'IMDS fixed on i-0abc',
        Message: JSON.stringify({ instanceId: 'i-0abc' }),
        MessageAttributes: { outcome: { DataType: 'String', StringValue: 'remediated' }, hopLimit: { DataType: 'Number', StringValue: '2' } },
      }),
    );
    expect(out.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(emulator.published(topicArn)).toEqual([
      {
        messageId: out.MessageId,
        topicArn,
        subject: 'IMDS fixed on i-0abc',
        message: '{"instanceId":"i-0abc"}',
        messageAttributes: {
          outcome: { dataType: 'String', stringValue: 'remediated' },
          hopLimit: { dataType: 'Number', stringValue: '2' },
        },
        at: expect.any(Date),
      },
    ]);
    expect(topicArn).toBe('arn:aws:sns:us-east-1:123456789012:imds-remediation');
  });

  it.each([
    ['a subject over 100 characters', { Subject: 's'.repeat(101) }],
    ['a subject with a line break', { Subject: 'line\nbreak' }],
    ['a non-ASCII subject', { Subject: 'héllo' }],
    ['an empty message', { Message: '' }],
    ['a message over 256 KB', { Message: 'x'.repeat(262_145) }],
    ['an attribute without a value', { MessageAttributes: { a: { DataType: 'String' } } }],
  ])('rejects %s with InvalidParameter (InvalidParameterException in the SDK)', async (_, override) => {
    const before = emulator.published().length;
    const error = await rejectionOf(clients.sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'm', ...override })));
    // The SDK names the modelled error after its shape; the wire code stays in `Code`.
    expect(error.name).toBe('InvalidParameterException');
    expect((error as unknown as { Code?: string }).Code).toBe('InvalidParameter');
    expect(error.$fault).toBe('client');
    expect(emulator.published()).toHaveLength(before);
  });

  it('accepts a 100-character subject and a 256 KB message', async () => {
    await clients.sns.send(new PublishCommand({ TopicArn: topicArn, Subject: 's'.repeat(100), Message: 'x'.repeat(262_144) }));
  });

  it('answers NotFound for a topic that does not exist', async () => {
    const error = await rejectionOf(
      clients.sns.send(new PublishCommand({ TopicArn: 'arn:aws:sns:us-east-1:123456789012:missing', Message: 'm' })),
    );
    expect(error.name).toBe('NotFoundException');
    expect(error.$metadata?.httpStatusCode).toBe(404);
  });
});
