import { createHash, randomUUID } from 'node:crypto';
import { AwsError } from './errors.ts';

type JsonObject = Record<string, unknown>;

const MAX_DELAY_SECONDS = 900;
const MAX_VISIBILITY_SECONDS = 43_200;
const MAX_BODY_BYTES = 262_144;
const DEFAULT_RETENTION_SECONDS = 345_600;

export interface MessageAttributeValue {
  DataType: string;
  StringValue?: string;
  BinaryValue?: string;
}

/** A message as the queue holds it; `receiveCount` is SQS's ApproximateReceiveCount. */
export interface QueuedMessage {
  readonly messageId: string;
  readonly body: string;
  readonly messageAttributes: Readonly<Record<string, MessageAttributeValue>>;
  readonly sentAt: number;
  /** Until then the message is delayed (DelaySeconds) or in flight (VisibilityTimeout). */
  visibleAt: number;
  receiveCount: number;
  firstReceivedAt: number | undefined;
  receiptHandle: string | undefined;
}

interface Queue {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  visibilityTimeoutSeconds: number;
  delaySeconds: number;
  retentionSeconds: number;
  redrive: { deadLetterTargetArn: string; maxReceiveCount: number } | undefined;
  readonly messages: QueuedMessage[];
}

interface SqsOptions {
  accountId: string;
  region: string;
  /** The emulator's own origin: queue URLs point at it, so the SDK keeps sending there. */
  origin: () => string;
}

/**
 * Standard SQS queues over the awsJson1_0 protocol (`AmazonSQS.*`): CreateQueue,
 * GetQueueAttributes, SendMessage (DelaySeconds, message attributes), ReceiveMessage
 * (visibility timeout, redrive to a dead-letter queue after maxReceiveCount), DeleteMessage.
 * Time is the wall clock plus `advance(ms)`, so a test can let a delay or a visibility timeout pass.
 */
export class SqsService {
  readonly #options: SqsOptions;
  readonly #queues = new Map<string, Queue>();
  #offsetMs = 0;

  constructor(options: SqsOptions) {
    this.#options = options;
  }

  /** Moves the queues' clock forward: delayed and in-flight messages become visible as time passes. */
  advance(ms: number): void {
    this.#offsetMs += ms;
  }

  createQueue(name: string, attributes: Readonly<Record<string, string>> = {}): string {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) {
      throw new AwsError('InvalidParameterValue', 'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length');
    }
    const existing = this.#byName(name);
    if (existing !== undefined) return existing.url;
    const { accountId, region } = this.#options;
    const queue: Queue = {
      name,
      url: `${this.#options.origin()}/${accountId}/${name}`,
      arn: `arn:aws:sqs:${region}:${accountId}:${name}`,
      visibilityTimeoutSeconds: 30,
      delaySeconds: 0,
      retentionSeconds: DEFAULT_RETENTION_SECONDS,
      redrive: undefined,
      messages: [],
    };
    this.#setAttributes(queue, attributes);
    this.#queues.set(queue.url, queue);
    return queue.url;
  }

  /** What the queue holds now, delayed and in-flight messages included (a copy). */
  messages(queueUrl: string): QueuedMessage[] {
    return structuredClone(this.#queue(queueUrl).messages);
  }

  queueArn(queueUrl: string): string {
    return this.#queue(queueUrl).arn;
  }

  readonly operations: Record<string, (input: JsonObject) => JsonObject> = {
    CreateQueue: (input) => ({ QueueUrl: this.createQueue(requireString(input, 'QueueName'), stringMap(input['Attributes'])) }),
    GetQueueAttributes: (input) => this.#getQueueAttributes(input),
    SendMessage: (input) => this.#sendMessage(input),
    ReceiveMessage: (input) => this.#receiveMessage(input),
    DeleteMessage: (input) => this.#deleteMessage(input),
  };

  #sendMessage(input: JsonObject): JsonObject {
    const queue = this.#queue(requireString(input, 'QueueUrl'));
    const body = requireString(input, 'MessageBody');
    if (body === '' || Buffer.byteLength(body) > MAX_BODY_BYTES) {
      throw new AwsError('InvalidParameterValue', `One or more parameters are invalid. Reason: Message must be shorter than ${MAX_BODY_BYTES} bytes.`);
    }
    const delay = input['DelaySeconds'] ?? queue.delaySeconds;
    if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 0 || delay > MAX_DELAY_SECONDS) {
      throw new AwsError('InvalidParameterValue', `Value ${String(delay)} for parameter DelaySeconds is invalid. Reason: must be between 0 and ${MAX_DELAY_SECONDS}, if provided.`);
    }
    const messageAttributes = readAttributes(input['MessageAttributes']);
    const now = this.#now();
    const message: QueuedMessage = {
      messageId: randomUUID(),
      body,
      messageAttributes,
      sentAt: now,
      visibleAt: now + delay * 1000,
      receiveCount: 0,
      firstReceivedAt: undefined,
      receiptHandle: undefined,
    };
    queue.messages.push(message);
    const output: JsonObject = { MessageId: message.messageId, MD5OfMessageBody: md5(body) };
    if (Object.keys(messageAttributes).length > 0) output['MD5OfMessageAttributes'] = md5OfAttributes(messageAttributes);
    return output;
  }

  #receiveMessage(input: JsonObject): JsonObject {
    const queue = this.#queue(requireString(input, 'QueueUrl'));
    const max = input['MaxNumberOfMessages'] ?? 1;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 10) {
      throw new AwsError('InvalidParameterValue', `Value ${String(max)} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.`);
    }
    const visibility = input['VisibilityTimeout'] ?? queue.visibilityTimeoutSeconds;
    if (typeof visibility !== 'number' || visibility < 0 || visibility > MAX_VISIBILITY_SECONDS) {
      throw new AwsError('InvalidParameterValue', `Value ${String(visibility)} for parameter VisibilityTimeout is invalid.`);
    }
    const now = this.#now();
    this.#expire(queue, now);
    const wantedAttributes = new Set(stringList(input['MessageSystemAttributeNames'] ?? input['AttributeNames']));
    const wantedMessageAttributes = new Set(stringList(input['MessageAttributeNames']));
    const received: JsonObject[] = [];
    for (const message of [...queue.messages]) {
      if (received.length >= max) break;
      if (message.visibleAt > now) continue;
      // SQS moves a message to the dead-letter queue when a receive would exceed maxReceiveCount.
      if (queue.redrive !== undefined && message.receiveCount >= queue.redrive.maxReceiveCount) {
        this.#moveToDeadLetterQueue(queue, message);
        continue;
      }
      message.receiveCount++;
      message.firstReceivedAt ??= now;
      message.visibleAt = now + visibility * 1000;
      message.receiptHandle = `${message.messageId}#${message.receiveCount}#${randomUUID()}`;
      received.push(this.#wireMessage(message, wantedAttributes, wantedMessageAttributes));
    }
    return received.length === 0 ? {} : { Messages: received };
  }

  #deleteMessage(input: JsonObject): JsonObject {
    const queue = this.#queue(requireString(input, 'QueueUrl'));
    const handle = requireString(input, 'ReceiptHandle');
    const at = queue.messages.findIndex((m) => m.receiptHandle === handle);
    if (at < 0) {
      if (queue.messages.some((m) => handle.startsWith(`${m.messageId}#`))) return {};
      throw new AwsError('ReceiptHandleIsInvalid', `The input receipt handle "${handle}" is not a valid receipt handle.`);
    }
    queue.messages.splice(at, 1);
    return {};
  }

  #getQueueAttributes(input: JsonObject): JsonObject {
    const queue = this.#queue(requireString(input, 'QueueUrl'));
    const now = this.#now();
    const all: Record<string, string> = {
      QueueArn: queue.arn,
      VisibilityTimeout: String(queue.visibilityTimeoutSeconds),
      DelaySeconds: String(queue.delaySeconds),
      MessageRetentionPeriod: String(queue.retentionSeconds),
      ApproximateNumberOfMessages: String(queue.messages.filter((m) => m.visibleAt <= now).length),
      ApproximateNumberOfMessagesNotVisible: String(queue.messages.filter((m) => m.visibleAt > now && m.receiveCount > 0).length),
      ApproximateNumberOfMessagesDelayed: String(queue.messages.filter((m) => m.visibleAt > now && m.receiveCount === 0).length),
    };
    if (queue.redrive !== undefined) all['RedrivePolicy'] = JSON.stringify(queue.redrive);
    const names = stringList(input['AttributeNames']);
    const wanted = names.includes('All') ? Object.keys(all) : names;
    return { Attributes: Object.fromEntries(wanted.filter((name) => name in all).map((name) => [name, all[name]])) };
  }

  #wireMessage(message: QueuedMessage, attributes: ReadonlySet<string>, messageAttributes: ReadonlySet<string>): JsonObject {
    const system: Record<string, string> = {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: String(message.sentAt),
      ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt),
      SenderId: 'AIDAEMULATOR',
    };
    const pick = <T>(all: Readonly<Record<string, T>>, wanted: ReadonlySet<string>) =>
      Object.fromEntries(Object.entries(all).filter(([name]) => wanted.has('All') || wanted.has('.*') || wanted.has(name)));
    const chosen = pick(message.messageAttributes, messageAttributes);
    const wire: JsonObject = {
      MessageId: message.messageId,
      ReceiptHandle: message.receiptHandle,
      MD5OfBody: md5(message.body),
      Body: message.body,
    };
    const systemChosen = pick(system, attributes);
    if (Object.keys(systemChosen).length > 0) wire['Attributes'] = systemChosen;
    if (Object.keys(chosen).length > 0) {
      wire['MessageAttributes'] = chosen;
      wire['MD5OfMessageAttributes'] = md5OfAttributes(chosen);
    }
    return wire;
  }

  #moveToDeadLetterQueue(queue: Queue, message: QueuedMessage): void {
    const target = [...this.#queues.values()].find((q) => q.arn === queue.redrive?.deadLetterTargetArn);
    queue.messages.splice(queue.messages.indexOf(message), 1);
    // Like SQS, the message keeps its id, body, attributes and receive count; it is visible at once.
    target?.messages.push({ ...message, visibleAt: this.#now(), receiptHandle: undefined });
  }

  #expire(queue: Queue, now: number): void {
    const oldest = now - queue.retentionSeconds * 1000;
    for (const message of [...queue.messages]) if (message.sentAt < oldest) queue.messages.splice(queue.messages.indexOf(message), 1);
  }

  #setAttributes(queue: Queue, attributes: Readonly<Record<string, string>>): void {
    const integer = (name: string, min: number, max: number) => {
      const value = attributes[name];
      if (value === undefined) return undefined;
      if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
        throw new AwsError('InvalidAttributeValue', `Invalid value for the parameter ${name}.`);
      }
      return Number(value);
    };
    queue.visibilityTimeoutSeconds = integer('VisibilityTimeout', 0, MAX_VISIBILITY_SECONDS) ?? queue.visibilityTimeoutSeconds;
    queue.delaySeconds = integer('DelaySeconds', 0, MAX_DELAY_SECONDS) ?? queue.delaySeconds;
    queue.retentionSeconds = integer('MessageRetentionPeriod', 60, 1_209_600) ?? queue.retentionSeconds;
    const redrive = attributes['RedrivePolicy'];
    if (redrive !== undefined) {
      let parsed: { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
      try {
        parsed = JSON.parse(redrive) as typeof parsed;
      } catch {
        throw new AwsError('InvalidAttributeValue', 'Invalid value for the parameter RedrivePolicy. Reason: Redrive policy is not a valid JSON map.');
      }
      const count = Number(parsed.maxReceiveCount);
      if (typeof parsed.deadLetterTargetArn !== 'string' || !Number.isInteger(count) || count < 1 || count > 1000) {
        throw new AwsError('InvalidAttributeValue', 'Invalid value for the parameter RedrivePolicy. Reason: needs deadLetterTargetArn and maxReceiveCount 1-1000.');
      }
      queue.redrive = { deadLetterTargetArn: parsed.deadLetterTargetArn, maxReceiveCount: count };
    }
  }

  #queue(url: string): Queue {
    const queue = this.#queues.get(url) ?? this.#byName(url.split('/').pop() ?? '');
    if (queue === undefined) throw new AwsError('QueueDoesNotExist', 'The specified queue does not exist.');
    return queue;
  }

  #byName(name: string): Queue | undefined {
    return [...this.#queues.values()].find((q) => q.name === name);
  }

  #now(): number {
    return Date.now() + this.#offsetMs;
  }
}

function requireString(input: JsonObject, name: string): string {
  const value = input[name];
  if (typeof value !== 'string') throw new AwsError('MissingParameter', `The request must contain the parameter ${name}.`);
  return value;
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function stringMap(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

function readAttributes(value: unknown): Record<string, MessageAttributeValue> {
  const attributes: Record<string, MessageAttributeValue> = {};
  if (value === undefined) return attributes;
  if (typeof value !== 'object' || value === null) throw new AwsError('InvalidParameterValue', 'MessageAttributes must be a map.');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 10) throw new AwsError('InvalidParameterValue', 'Number of message attributes [' + entries.length + '] exceeds the allowed maximum [10].');
  for (const [name, raw] of entries) {
    const attribute = raw as Partial<MessageAttributeValue>;
    if (typeof attribute.DataType !== 'string' || !/^(String|Number|Binary)(\..+)?$/.test(attribute.DataType)) {
      throw new AwsError('InvalidParameterValue', `The type of message (user) attribute '${name}' is invalid.`);
    }
    const binary = attribute.DataType.startsWith('Binary');
    const stringValue = attribute.StringValue;
    if (binary ? typeof attribute.BinaryValue !== 'string' : typeof stringValue !== 'string' || stringValue === '') {
      throw new AwsError('InvalidParameterValue', `Message (user) attribute '${name}' must contain a non-empty value of message attribute type '${attribute.DataType}'.`);
    }
    if (attribute.DataType.startsWith('Number') && !Number.isFinite(Number(stringValue))) {
      throw new AwsError('InvalidParameterValue', `Can't cast the value of message (user) attribute '${name}' to a number.`);
    }
    attributes[name] = binary ? { DataType: attribute.DataType, BinaryValue: attribute.BinaryValue! } : { DataType: attribute.DataType, StringValue: stringValue! };
  }
  return attributes;
}

function md5(text: string | Buffer): string {
  return createHash('md5').update(text).digest('hex');
}

/** SQS's documented digest: names sorted; each name, type and value length-prefixed, with a transport byte. */
function md5OfAttributes(attributes: Readonly<Record<string, MessageAttributeValue>>): string {
  const parts: Buffer[] = [];
  const lengthPrefixed = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  };
  for (const name of Object.keys(attributes).sort()) {
    const attribute = attributes[name]!;
    lengthPrefixed(Buffer.from(name, 'utf8'));
    lengthPrefixed(Buffer.from(attribute.DataType, 'utf8'));
    if (attribute.BinaryValue !== undefined) {
      parts.push(Buffer.from([2]));
      lengthPrefixed(Buffer.from(attribute.BinaryValue, 'base64'));
    } else {
      parts.push(Buffer.from([1]));
      lengthPrefixed(Buffer.from(attribute.StringValue ?? '', 'utf8'));
    }
  }
  return md5(Buffer.concat(parts));
}
