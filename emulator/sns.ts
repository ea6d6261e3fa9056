import { randomUUID } from 'node:crypto';
import { AwsError } from './errors.ts';
import { indexes } from './form.ts';
import { XmlWriter } from './xml.ts';

const XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';
const MAX_MESSAGE_BYTES = 262_144;
const MAX_SUBJECT = 100;
const DATA_TYPES = /^(String|Number|Binary)(\..+)?$|^String\.Array$/;

export interface MessageAttribute {
  dataType: string;
  stringValue?: string;
  binaryValue?: string;
}

export interface PublishedMessage {
  messageId: string;
  topicArn: string;
  subject?: string;
  message: string;
  messageAttributes: Record<string, MessageAttribute>;
  at: Date;
}

interface SnsOptions {
  accountId: string;
  region: string;
}

export class SnsService {
  readonly #options: SnsOptions;
  readonly #topics = new Set<string>();
  readonly #published: PublishedMessage[] = [];

  constructor(options: SnsOptions) {
    this.#options = options;
  }

  createTopic(name: string): string {
    const arn = `arn:aws:sns:${this.#options.region}:${this.#options.accountId}:${name}`;
    this.#topics.add(arn);
    return arn;
  }

  deleteTopic(arn: string): void {
    this.#topics.delete(arn);
  }

  published(topicArn?: string): PublishedMessage[] {
    const messages = topicArn === undefined ? this.#published : this.#published.filter((m) => m.topicArn === topicArn);
    return structuredClone(messages);
  }

  clearPublished(): void {
    this.#published.length = 0;
  }

  readonly operations: Record<string, (form: URLSearchParams, requestId: string) => string> = {
    Publish: (form, requestId) => this.#publish(form, requestId),
  };

  #publish(form: URLSearchParams, requestId: string): string {
    const topicArn = form.get('TopicArn') ?? form.get('TargetArn');
    if (topicArn === null || topicArn === '') {
      throw invalidParameter('TopicArn or TargetArn Reason: no value for required parameter');
    }
    const message = form.get('Message');
    if (message === null || message === '') throw invalidParameter('Empty message');
    const subject = form.get('Subject');
    // SNS wants ASCII without line breaks or control characters.
    if (subject !== null && (subject === '' || subject.length > MAX_SUBJECT || !/^[\x20-\x7e]+$/.test(subject))) {
      throw invalidParameter('Subject');
    }
    const attributes = readAttributes(form);
    let size = Buffer.byteLength(message, 'utf8');
    for (const [name, value] of Object.entries(attributes)) {
      size += Buffer.byteLength(name) + Buffer.byteLength(value.dataType) + Buffer.byteLength(value.stringValue ?? value.binaryValue ?? '');
    }
    if (size > MAX_MESSAGE_BYTES) throw invalidParameter('Message too long');
    if (!/^arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]+(\.fifo)?$/.test(topicArn)) {
      throw invalidParameter(`TopicArn Reason: An ARN must have at least 6 elements, not ${topicArn.split(':').length}`);
    }
    if (!this.#topics.has(topicArn)) throw new AwsError('NotFound', 'Topic does not exist', 404);

    const messageId = randomUUID();
    const published: PublishedMessage = { messageId, topicArn, message, messageAttributes: attributes, at: new Date() };
    if (subject !== null) published.subject = subject;
    this.#published.push(published);
    return new XmlWriter()
      .open('PublishResponse', XMLNS)
      .open('PublishResult')
      .leaf('MessageId', messageId)
      .close('PublishResult')
      .open('ResponseMetadata')
      .leaf('RequestId', requestId)
      .close('ResponseMetadata')
      .close('PublishResponse')
      .toString();
  }
}

function readAttributes(form: URLSearchParams): Record<string, MessageAttribute> {
  const attributes: Record<string, MessageAttribute> = {};
  for (const i of indexes(form, 'MessageAttributes.entry')) {
    const prefix = `MessageAttributes.entry.${i}`;
    const name = form.get(`${prefix}.Name`) ?? '';
    const dataType = form.get(`${prefix}.Value.DataType`);
    const stringValue = form.get(`${prefix}.Value.StringValue`);
    const binaryValue = form.get(`${prefix}.Value.BinaryValue`);
    if (name === '' || name.length > 256) throw invalidParameter('MessageAttributes Reason: Message attribute name is invalid');
    if (dataType === null || !DATA_TYPES.test(dataType)) {
      throw invalidParameter(`The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`);
    }
    if (dataType.startsWith('Binary') ? binaryValue === null : stringValue === null || stringValue === '') {
      throw invalidParameter(`The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${dataType}'.`);
    }
    if (dataType.startsWith('Number') && !Number.isFinite(Number(stringValue))) {
      throw invalidParameter(`Value ${String(stringValue)} for parameter MessageAttributes is invalid. Reason: Could not cast message attribute '${name}' value to number.`);
    }
    const attribute: MessageAttribute = { dataType };
    if (stringValue !== null) attribute.stringValue = stringValue;
    if (binaryValue !== null) attribute.binaryValue = binaryValue;
    attributes[name] = attribute;
  }
  return attributes;
}

function invalidParameter(detail: string): AwsError {
  return new AwsError('InvalidParameter', `Invalid parameter: ${detail}`);
}
