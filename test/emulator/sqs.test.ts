import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../emulator/index.ts';
import { clientsFor, destroy, rejectionOf, type Clients } from './clients.ts';

let emulator: Emulator;
let clients: Clients;

beforeAll(async () => {
  emulator = await startEmulator();
  clients = clientsFor(emulator, { maxAttempts: 1 });
});

afterAll(async () => {
  destroy(clients);
  await emulator.close();
});

async function aQueue(name: string, attributes: Record<string, string> = {}): Promise<string> {
  return (await clients.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl ?? '';
}

const receive = (QueueUrl: string, extra: Partial<ConstructorParameters<typeof ReceiveMessageCommand>[0]> = {}) =>
  clients.sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'], ...extra }));

describe('SQS over awsJson1_0', () => {
  it('creates a queue at the emulator\'s origin and reports its ARN', async () => {
    const url = await aQueue('plain');
    expect(url).toBe(`${emulator.url}/${emulator.accountId}/plain`);
    const attributes = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn', 'VisibilityTimeout'] }));
    expect(attributes.Attributes).toEqual({ QueueArn: `arn:aws:sqs:us-east-1:${emulator.accountId}:plain`, VisibilityTimeout: '30' });
  });

  it('sends and receives a message with its attributes (the SDK checks both MD5 digests)', async () => {
    const url = await aQueue('attributes');
    const sent = await clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: '{"detail-type":"Config Rules Compliance Change"}',
        MessageAttributes: { reason: { DataType: 'String', StringValue: 'InvalidEventError' }, receiveCount: { DataType: 'Number', StringValue: '3' } },
      }),
    );
    expect(sent.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    const { Messages } = await receive(url);
    expect(Messages).toHaveLength(1);
    expect(Messages?.[0]).toMatchObject({
      MessageId: sent.MessageId,
      Body: '{"detail-type":"Config Rules Compliance Change"}',
      MessageAttributes: { reason: { DataType: 'String', StringValue: 'InvalidEventError' }, receiveCount: { DataType: 'Number', StringValue: '3' } },
      Attributes: { ApproximateReceiveCount: '1' },
    });
    expect(Messages?.[0]?.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
  });

  it('digests message attributes as SQS does (the same digest moto 5.2.1 gives for these attributes)', async () => {
    const url = await aQueue('digest');
    const sent = await clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: 'x',
        MessageAttributes: { reason: { DataType: 'String', StringValue: 'InvalidEventError' }, receiveCount: { DataType: 'Number', StringValue: '1' } },
      }),
    );
    expect(sent.MD5OfMessageAttributes).toBe('2246efb555241ed39e26ae3c0eba6ed8');
  });

  it('holds a message back for DelaySeconds', async () => {
    const url = await aQueue('delayed');
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'later', DelaySeconds: 120 }));
    expect((await receive(url)).Messages).toBeUndefined();
    emulator.sqs.advance(119_000);
    expect((await receive(url)).Messages).toBeUndefined();
    emulator.sqs.advance(1_000);
    expect((await receive(url)).Messages?.map((m) => m.Body)).toEqual(['later']);
  });

  it('refuses a delay over 900 s, naming the parameter', async () => {
    const url = await aQueue('too-late');
    const error = await rejectionOf(clients.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x', DelaySeconds: 901 })));
    expect(error.name).toBe('InvalidParameterValue');
    expect(error.message).toContain('DelaySeconds');
  });

  it('hides a received message for the visibility timeout; deleting it removes it for good', async () => {
    const url = await aQueue('visibility', { VisibilityTimeout: '720' });
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'once' }));
    const [first] = (await receive(url)).Messages ?? [];
    expect((await receive(url)).Messages).toBeUndefined();
    emulator.sqs.advance(720_000);
    const [again] = (await receive(url)).Messages ?? [];
    expect(again).toMatchObject({ MessageId: first?.MessageId, Attributes: { ApproximateReceiveCount: '2' } });
    await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: again?.ReceiptHandle }));
    emulator.sqs.advance(720_000);
    expect((await receive(url)).Messages).toBeUndefined();
    expect(emulator.sqs.messages(url)).toEqual([]);
  });

  it('moves a message to the dead-letter queue once a receive would exceed maxReceiveCount', async () => {
    const dead = await aQueue('dead');
    const deadArn = emulator.sqs.queueArn(dead);
    const url = await aQueue('redriven', { VisibilityTimeout: '10', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadArn, maxReceiveCount: 2 }) });
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'poison' }));
    for (let i = 0; i < 2; i++) {
      expect((await receive(url)).Messages).toHaveLength(1);
      emulator.sqs.advance(10_000);
    }
    expect((await receive(url)).Messages).toBeUndefined();
    expect((await receive(dead)).Messages?.map((m) => [m.Body, m.Attributes?.['ApproximateReceiveCount']])).toEqual([['poison', '3']]);
  });

  it('answers QueueDoesNotExist for an unknown queue', async () => {
    const error = await rejectionOf(clients.sqs.send(new SendMessageCommand({ QueueUrl: `${emulator.url}/${emulator.accountId}/nope`, MessageBody: 'x' })));
    expect(error.name).toBe('QueueDoesNotExist');
    expect(error.$metadata?.httpStatusCode).toBe(400);
  });
});
