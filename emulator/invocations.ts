import { randomUUID } from 'node:crypto';
import type { Context, SQSEvent, SQSMessageAttributes } from 'aws-lambda';
import { EmulatorUsageError } from './errors.ts';
import { STATE_CODES, type Instance } from './instance.ts';
import type { Emulator } from './server.ts';

/** The event AWS Config invokes a custom Lambda rule with; `resultToken` is bound to the rule. */
export interface ConfigRuleInvocation {
  version: '1.0';
  invokingEvent: string;
  ruleParameters?: string;
  resultToken: string;
  eventLeftScope: boolean;
  executionRoleArn: string;
  configRuleArn: string;
  configRuleName: string;
  configRuleId: string;
  accountId: string;
  evaluationMode: 'DETECTIVE';
}

export interface RuleOptions {
  ruleName: string;
  ruleParameters?: Record<string, string>;
  /** notificationCreationTime, and the time the result token says the rule was invoked. */
  at?: Date;
}

export function scheduledInvocation(emulator: Emulator, options: RuleOptions): ConfigRuleInvocation {
  const at = options.at ?? new Date();
  return invocation(emulator, options, at, false, {
    awsAccountId: emulator.accountId,
    notificationCreationTime: at.toISOString(),
    messageType: 'ScheduledNotification',
    recordVersion: '1.0',
  });
}

export interface ChangeOptions extends RuleOptions {
  instanceId: string;
  status?: 'OK' | 'ResourceDiscovered' | 'ResourceNotRecorded' | 'ResourceDeleted' | 'ResourceDeletedNotRecorded';
  eventLeftScope?: boolean;
  /** Sends the summary without `configuration`, as Config does for items over the size limit. */
  oversized?: boolean;
  capturedAt?: Date;
}

/** A change-triggered invocation whose configuration item reflects the instance as it is now. */
export function changeInvocation(emulator: Emulator, options: ChangeOptions): ConfigRuleInvocation {
  const instance = emulator.getInstance(options.instanceId);
  if (instance === undefined) throw new EmulatorUsageError(`no instance ${options.instanceId} in the emulator`);
  const at = options.at ?? new Date();
  const capturedAt = options.capturedAt ?? at;
  const summary = {
    configurationItemVersion: '1.3',
    configurationItemCaptureTime: capturedAt.toISOString(),
    configurationStateId: capturedAt.getTime(),
    awsAccountId: emulator.accountId,
    configurationItemStatus: options.status ?? 'OK',
    resourceType: 'AWS::EC2::Instance',
    resourceId: instance.instanceId,
    resourceName: null,
    ARN: `arn:aws:ec2:${emulator.region}:${emulator.accountId}:instance/${instance.instanceId}`,
    awsRegion: emulator.region,
    availabilityZone: instance.availabilityZone,
    configurationStateMd5Hash: '',
    resourceCreationTime: instance.launchTime.toISOString(),
  };
  const base = { notificationCreationTime: at.toISOString(), recordVersion: '1.3' };
  const invokingEvent = options.oversized
    ? { ...base, configurationItemSummary: { changeType: 'UPDATE', ...summary }, messageType: 'OversizedConfigurationItemChangeNotification' }
    : {
        ...base,
        configurationItemDiff: null,
        configurationItem: {
          relatedEvents: [],
          relationships: [],
          configuration: configurationOf(instance),
          supplementaryConfiguration: {},
          tags: { ...instance.tags },
          ...summary,
        },
        messageType: 'ConfigurationItemChangeNotification',
      };
  return invocation(emulator, options, at, options.eventLeftScope ?? false, invokingEvent);
}

/** A message as SQS ReceiveMessage returns it (the SDK's `Message` shape). */
export interface ReceivedMessage {
  readonly MessageId?: string;
  readonly ReceiptHandle?: string;
  readonly Body?: string;
  readonly MD5OfBody?: string;
  readonly Attributes?: Partial<Record<string, string>>;
  readonly MessageAttributes?: Record<string, { DataType?: string; StringValue?: string; BinaryValue?: Uint8Array }>;
}

/**
 * The event an SQS event source mapping invokes a function with, for messages it received from
 * the queue: Lambda's record shape (camelCase, attributes as strings).
 */
export function sqsInvocation(messages: readonly ReceivedMessage[], queueArn: string): SQSEvent {
  const region = queueArn.split(':')[3] ?? '';
  return {
    Records: messages.map((message) => {
      const attributes = message.Attributes ?? {};
      const messageAttributes: SQSMessageAttributes = {};
      for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
        messageAttributes[name] = {
          dataType: value.DataType ?? 'String',
          stringListValues: [],
          binaryListValues: [],
          ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
          ...(value.BinaryValue !== undefined ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') } : {}),
        };
      }
      return {
        messageId: message.MessageId ?? randomUUID(),
        receiptHandle: message.ReceiptHandle ?? '',
        body: message.Body ?? '',
        attributes: {
          ApproximateReceiveCount: attributes['ApproximateReceiveCount'] ?? '1',
          SentTimestamp: attributes['SentTimestamp'] ?? String(Date.now()),
          SenderId: attributes['SenderId'] ?? 'AIDAEMULATOR',
          ApproximateFirstReceiveTimestamp: attributes['ApproximateFirstReceiveTimestamp'] ?? String(Date.now()),
        },
        messageAttributes,
        md5OfBody: message.MD5OfBody ?? '',
        eventSource: 'aws:sqs',
        eventSourceARN: queueArn,
        awsRegion: region,
      };
    }),
  };
}

/** A Lambda context good enough for Powertools: names, ARN, request id and a remaining-time clock. */
export function lambdaContext(emulator: Emulator, functionName: string, timeoutMs = 60_000): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${emulator.region}:${emulator.accountId}:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `2026/01/01/[$LATEST]${randomUUID().replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export function invocation(emulator: Emulator, options: RuleOptions, at: Date, eventLeftScope: boolean, invokingEvent: object): ConfigRuleInvocation {
  const rule = emulator.config.createRule(options.ruleName);
  const event: ConfigRuleInvocation = {
    version: '1.0',
    invokingEvent: JSON.stringify(invokingEvent),
    resultToken: emulator.resultTokenFor(options.ruleName, at),
    eventLeftScope,
    executionRoleArn: `arn:aws:iam::${emulator.accountId}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig`,
    configRuleArn: rule.configRuleArn,
    configRuleName: rule.configRuleName,
    configRuleId: rule.configRuleId,
    accountId: emulator.accountId,
    evaluationMode: 'DETECTIVE',
  };
  if (options.ruleParameters !== undefined) event.ruleParameters = JSON.stringify(options.ruleParameters);
  return event;
}

/** The DescribeInstances shape in camelCase, as Config records it. */
function configurationOf(instance: Instance): Record<string, unknown> {
  const configuration: Record<string, unknown> = {
    instanceId: instance.instanceId,
    imageId: instance.imageId,
    state: { code: STATE_CODES[instance.state], name: instance.state },
    instanceType: instance.instanceType,
    launchTime: instance.launchTime.toISOString(),
    placement: { availabilityZone: instance.availabilityZone, groupName: '', tenancy: 'default' },
    privateDnsName: instance.privateDnsName,
    metadataOptions: { ...instance.metadataOptions },
    tags: Object.entries(instance.tags).map(([key, value]) => ({ key, value })),
  };
  if (instance.iamInstanceProfile !== undefined) configuration['iamInstanceProfile'] = { ...instance.iamInstanceProfile };
  return configuration;
}
