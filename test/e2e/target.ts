import {
  ConfigServiceClient,
  GetComplianceDetailsByConfigRuleCommand,
  paginateGetComplianceDetailsByConfigRule,
  PutEvaluationsCommand,
} from '@aws-sdk/client-config-service';
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  EntityAlreadyExistsException,
  GetRoleCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { demoFleet, type FleetMember } from '../../emulator/demo-fleet.ts';
import { startEmulator, type ComplianceChangeEvent, type Emulator, type InstanceSpec } from '../../emulator/index.ts';
import { changeInvocation, lambdaContext, scheduledInvocation } from '../../emulator/invocations.ts';
import { createRemediationQueues, drainQueue, sendEvents, type PollResult, type RemediationQueues } from '../../emulator/event-source.ts';

/**
 * Where the end-to-end suite runs: the project's loopback emulator (default), or an external
 * AWS-compatible endpoint (LocalStack, moto) when AWS_ENDPOINT_URL is set before the suite
 * starts. Either way the handlers reach it only through AWS_ENDPOINT_URL.
 */
export const EXTERNAL_ENDPOINT = process.env.AWS_ENDPOINT_URL;

export const RULE_NAME = 'eks-imds-guard';

/** An SNS notification as a subscriber receives it; attributes are the String message attributes. */
export interface Notification {
  readonly subject: string | undefined;
  readonly message: string;
  readonly attributes: Readonly<Record<string, string>>;
}

/** What a test may need beyond the EC2, SNS and CloudWatch calls every target serves. */
export type TargetFeature = 'config-results' | 'emulator-controls' | 'imdsv1-metric' | 'managed-instances';

export interface Target {
  /** Present on the emulator only: fault injection, call counts, event emission, SNS records. */
  readonly emulator: Emulator | undefined;
  readonly accountId: string;
  readonly region: string;
  readonly topicArn: string;
  /** Why the target cannot serve a feature; absent when it can. */
  readonly missing: Readonly<Partial<Record<TargetFeature, string>>>;
  /** The remediation queue the compliance changes go to, and its dead-letter queue. */
  readonly queues: RemediationQueues;
  readonly sqs: SQSClient;
  seed(spec: InstanceSpec): Promise<string>;
  describe(instanceId: string): Promise<Instance | undefined>;
  /** The rule's stored results, read back through the Config API. */
  results(ruleName?: string): Promise<Map<string, string>>;
  sweepEvent(ruleParameters: Record<string, string>, ruleName?: string, now?: Date): unknown;
  /** A change notification for an item too large to embed: the rule reads the instance itself. */
  oversizedEvent(instanceId: string, ruleParameters?: Record<string, string>): unknown;
  /** Every notification published to the topic so far (both the emulator and moto deliver at once). */
  notifications(): Promise<Notification[]>;
  context(functionName: string): Context;
  close(): Promise<void>;
}

/** Skips the running test when the target lacks a feature, with the reason as the skip note. */
export function skipWithout(target: Target, feature: TargetFeature, skip: (condition: boolean, note?: string) => void): void {
  const reason = target.missing[feature];
  skip(reason !== undefined, reason);
}

/** Starts the target and sets the environment the handlers read at import: import them after. */
export async function startTarget(remediationEnv: Record<string, string> = {}): Promise<Target> {
  const target = EXTERNAL_ENDPOINT === undefined ? await emulatorTarget() : await externalTarget();
  Object.assign(process.env, {
    CONFIG_RULE_NAME: RULE_NAME,
    TOPIC_ARN: target.topicArn,
    REMEDIATION_MODE: 'enforce',
    IMDSV1_GUARD: 'true',
    IMDSV1_LOOKBACK_HOURS: '24',
    RULE_PARAMETERS: '{}',
    REMEDIATION_QUEUE_URL: target.queues.queueUrl,
    DEAD_LETTER_QUEUE_URL: target.queues.deadLetterQueueUrl,
    ...remediationEnv,
  });
  return target;
}

/** EventBridge queues the events; the event source mapping hands them to the function, one a batch. */
export async function remediateThroughQueue(target: Target, handler: DemoSetup['remediate'], events: readonly unknown[]): Promise<PollResult> {
  await sendEvents(target.sqs, target.queues.queueUrl, events);
  return drainQueue(target.sqs, target.queues, handler, () => target.context('remediate'));
}

export interface DemoSetup {
  readonly target: Target;
  /** The demo fleet as launched, by instance id. */
  readonly fleet: Map<string, FleetMember>;
  readonly evaluate: typeof import('../../functions/evaluate-imds/handler.ts').handler;
  readonly remediate: typeof import('../../functions/remediate-imds/handler.ts').handler;
}

/**
 * A started target holding the demo fleet, and the real handlers, imported only now because they
 * read the environment at import. IMDSv1 use is seeded on the emulator only (`imdsv1-metric`).
 */
export async function startDemo(): Promise<DemoSetup> {
  const target = await startTarget();
  const { handler: evaluate } = await import('../../functions/evaluate-imds/handler.ts');
  const { handler: remediate } = await import('../../functions/remediate-imds/handler.ts');
  const fleet = new Map<string, FleetMember>();
  for (const member of demoFleet()) {
    const id = await target.seed(member.spec);
    fleet.set(id, member);
    if (member.imdsV1Calls > 0) target.emulator?.setImdsV1Calls(id, member.imdsV1Calls);
  }
  return { target, fleet, evaluate, remediate };
}

async function emulatorTarget(): Promise<Target> {
  const emulator = await startEmulator({ applyDelayMs: 20 });
  Object.assign(process.env, emulator.clientEnv());
  const clients = sdkClients();
  const topicArn = emulator.createTopic('eks-imds-guard-e2e');
  return {
    emulator,
    accountId: emulator.accountId,
    region: emulator.region,
    topicArn,
    missing: {},
    queues: await createRemediationQueues(clients.sqs),
    sqs: clients.sqs,
    seed: async (spec) => emulator.addInstance(spec),
    describe: (id) => describeInstance(clients.ec2, id),
    results: (ruleName = RULE_NAME) => readResults(clients.config, ruleName),
    sweepEvent: (ruleParameters, ruleName = RULE_NAME, now) => scheduledInvocation(emulator, { ruleName, ruleParameters, ...(now ? { at: now } : {}) }),
    oversizedEvent: (instanceId, ruleParameters = {}) => changeInvocation(emulator, { ruleName: RULE_NAME, ruleParameters, instanceId, oversized: true }),
    notifications: async () =>
      emulator.published(topicArn).map((m) => ({
        subject: m.subject,
        message: m.message,
        attributes: Object.fromEntries(Object.entries(m.messageAttributes).map(([name, value]) => [name, value.stringValue ?? ''])),
      })),
    context: (name) => lambdaContext(emulator, name),
    close: async () => {
      destroy(clients);
      await emulator.close();
    },
  };
}

/**
 * An external AWS-compatible endpoint (moto, LocalStack): everything a real account would need
 * is created through the APIs. Instances are launched with RunInstances (tags and metadata
 * options in the request) under instance profiles created in IAM first, as EC2 refuses a profile
 * that does not exist. The account is the one IAM reports. What the endpoint does not implement
 * is found by asking it, not assumed, and the tests that need it skip with that reason.
 */
async function externalTarget(): Promise<Target> {
  const region = process.env.AWS_REGION ?? 'us-east-1';
  Object.assign(process.env, {
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'test',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
  });
  const clients = sdkClients();
  const iam = new IAMClient({});
  const nodeRoleArn = await ensureNodeRole(iam);
  const accountId = nodeRoleArn.split(':')[4] ?? '';
  const profiles = new Map<string, Promise<string>>();
  const profileNamed = (arn: string) => {
    const name = arn.slice(arn.lastIndexOf('/') + 1);
    let created = profiles.get(name);
    if (created === undefined) {
      created = ensureInstanceProfile(iam, name);
      profiles.set(name, created);
    }
    return created;
  };
  const topic = await clients.sns.send(new CreateTopicCommand({ Name: 'eks-imds-guard-e2e' }));
  const topicArn = topic.TopicArn ?? '';
  const subscription = await subscribeQueue(clients.sns, clients.sqs, topicArn, accountId, region);
  const missing: Partial<Record<TargetFeature, string>> = {
    'emulator-controls': "needs the project's emulator (fault injection, call counts, instance state control, compliance-change events, recorded notifications)",
    // Real CloudWatch refuses PutMetricData in AWS/ namespaces: only EC2 itself can publish it.
    'imdsv1-metric': 'AWS/EC2 MetadataNoToken is published by EC2 alone (AWS/ namespaces are reserved), so no API call can seed IMDSv1 use',
    // Only EC2 sets an instance's Operator, for the service that launched it (EKS Auto Mode).
    'managed-instances': 'RunInstances cannot launch an EC2 managed instance (Operator eks.amazonaws.com), the only proof of an EKS Auto Mode node',
  };
  const configGap = await probeConfigResults();
  if (configGap !== undefined) missing['config-results'] = configGap;
  const context = (functionName: string): Context =>
    ({
      functionName,
      invokedFunctionArn: `arn:aws:lambda:${region}:${accountId}:function:${functionName}`,
      getRemainingTimeInMillis: () => 120_000,
    }) as Context;
  const ruleEvent = (invokingEvent: object, ruleParameters: Record<string, string>, ruleName: string, resultToken: string) => ({
    version: '1.0',
    invokingEvent: JSON.stringify(invokingEvent),
    ruleParameters: JSON.stringify(ruleParameters),
    resultToken,
    eventLeftScope: false,
    configRuleName: ruleName,
    accountId,
  });
  return {
    emulator: undefined,
    accountId,
    region,
    topicArn,
    missing,
    // The e2e workers share the endpoint: each gets its own queues, or one would drain the other's.
    queues: await createRemediationQueues(clients.sqs, `eks-imds-guard-e2e-${crypto.randomUUID().slice(0, 8)}`),
    sqs: clients.sqs,
    seed: async (spec) => {
      const options = spec.metadataOptions ?? {};
      const launched = await clients.ec2.send(
        new RunInstancesCommand({
          ImageId: 'ami-12345678',
          InstanceType: 't3.micro',
          MinCount: 1,
          MaxCount: 1,
          ...(spec.iamInstanceProfile ? { IamInstanceProfile: { Name: await profileNamed(spec.iamInstanceProfile.arn) } } : {}),
          MetadataOptions: {
            HttpTokens: options.httpTokens,
            HttpPutResponseHopLimit: options.httpPutResponseHopLimit,
            HttpEndpoint: options.httpEndpoint,
          },
          TagSpecifications: [
            {
              ResourceType: 'instance',
              // `aws:` keys are reserved for AWS: EC2 refuses them in requests.
              Tags: Object.entries(spec.tags ?? {})
                .filter(([key]) => !key.startsWith('aws:'))
                .map(([Key, Value]) => ({ Key, Value })),
            },
          ],
        }),
      );
      return launched.Instances?.[0]?.InstanceId ?? '';
    },
    describe: (id) => describeInstance(clients.ec2, id),
    results: (ruleName = RULE_NAME) => readResults(clients.config, ruleName),
    // Results written with TESTMODE are checked and not recorded: the token is Config's own, and
    // an endpoint without stored results (moto) accepts PutEvaluations only in test mode.
    sweepEvent: (ruleParameters, ruleName = RULE_NAME, now = new Date()) =>
      ruleEvent(
        { awsAccountId: accountId, notificationCreationTime: now.toISOString(), messageType: 'ScheduledNotification', recordVersion: '1.0' },
        ruleParameters,
        ruleName,
        'external-endpoint-token',
      ),
    oversizedEvent: (instanceId, ruleParameters = {}) => {
      const now = new Date().toISOString();
      return ruleEvent(
        {
          configurationItemSummary: {
            changeType: 'UPDATE',
            configurationItemVersion: '1.3',
            configurationItemCaptureTime: now,
            awsAccountId: accountId,
            configurationItemStatus: 'OK',
            resourceType: 'AWS::EC2::Instance',
            resourceId: instanceId,
            ARN: `arn:aws:ec2:${region}:${accountId}:instance/${instanceId}`,
            awsRegion: region,
          },
          notificationCreationTime: now,
          messageType: 'OversizedConfigurationItemChangeNotification',
          recordVersion: '1.3',
        },
        ruleParameters,
        RULE_NAME,
        'TESTMODE',
      );
    },
    notifications: subscription.received,
    context,
    close: async () => {
      destroy(clients);
      iam.destroy();
    },
  };
}

/**
 * How an account watches a topic: an SQS queue subscribed to it. The e2e workers share one
 * endpoint and one topic, so each has its own queue (and sees the other's notifications too).
 */
async function subscribeQueue(sns: SNSClient, sqs: SQSClient, topicArn: string, accountId: string, region: string) {
  const queueName = `eks-imds-guard-e2e-${crypto.randomUUID().slice(0, 8)}`;
  const queueArn = `arn:aws:sqs:${region}:${accountId}:${queueName}`;
  // SNS may deliver to the queue, and only from this topic.
  const policy = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: 'sns.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: queueArn,
        Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
      },
    ],
  };
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: queueName, Attributes: { Policy: JSON.stringify(policy) } }));
  await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn }));
  const received: Notification[] = [];
  return {
    received: async (): Promise<Notification[]> => {
      for (;;) {
        const { Messages: messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        if (messages.length === 0) return [...received];
        for (const message of messages) received.push(fromSnsEnvelope(message.Body ?? '{}'));
        await sqs.send(
          new DeleteMessageBatchCommand({ QueueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
        );
      }
    },
  };
}

/** The JSON SNS wraps a message in for an SQS subscriber without raw delivery. */
function fromSnsEnvelope(body: string): Notification {
  const envelope = JSON.parse(body) as { Subject?: string; Message?: string; MessageAttributes?: Record<string, { Type: string; Value: string }> };
  return {
    subject: envelope.Subject,
    message: envelope.Message ?? '',
    attributes: Object.fromEntries(Object.entries(envelope.MessageAttributes ?? {}).map(([name, value]) => [name, value.Value])),
  };
}

const NODE_ROLE = 'eks-imds-guard-e2e-node';
// What EKS node roles trust: EC2 assumes the role for the instance profile.
const EC2_TRUST_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

/** Both e2e workers share one endpoint: whoever comes second finds the role already there. */
async function ensureNodeRole(iam: IAMClient): Promise<string> {
  try {
    const created = await iam.send(new CreateRoleCommand({ RoleName: NODE_ROLE, AssumeRolePolicyDocument: EC2_TRUST_POLICY }));
    return created.Role?.Arn ?? '';
  } catch (error) {
    if (!(error instanceof EntityAlreadyExistsException)) throw error;
    return (await iam.send(new GetRoleCommand({ RoleName: NODE_ROLE }))).Role?.Arn ?? '';
  }
}

async function ensureInstanceProfile(iam: IAMClient, name: string): Promise<string> {
  try {
    await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: name }));
  } catch (error) {
    if (error instanceof EntityAlreadyExistsException) return name;
    throw error;
  }
  await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: name, RoleName: NODE_ROLE }));
  return name;
}

/**
 * Whether the endpoint stores and lists AWS Config results, asked with the two calls that need
 * it. A modelled error (no such rule, a bad token) means the operation exists; a server error
 * means it does not (moto 5.2.1 answers 500 "not implemented" to both).
 */
async function probeConfigResults(): Promise<string | undefined> {
  const probe = new ConfigServiceClient({ maxAttempts: 1 });
  const unimplemented: string[] = [];
  const attempt = async (operation: string, call: () => Promise<unknown>) => {
    try {
      await call();
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
      if (status >= 500) unimplemented.push(`${operation} (HTTP ${status})`);
    }
  };
  try {
    await attempt('GetComplianceDetailsByConfigRule', () =>
      probe.send(new GetComplianceDetailsByConfigRuleCommand({ ConfigRuleName: 'eks-imds-guard-probe' })),
    );
    await attempt('PutEvaluations without TestMode', () =>
      probe.send(
        new PutEvaluationsCommand({
          ResultToken: 'probe',
          Evaluations: [{ ComplianceResourceType: 'AWS::EC2::Instance', ComplianceResourceId: 'i-00000000', ComplianceType: 'COMPLIANT', OrderingTimestamp: new Date() }],
        }),
      ),
    );
  } finally {
    probe.destroy();
  }
  if (unimplemented.length === 0) return undefined;
  return `the endpoint does not implement ${unimplemented.join(' or ')}: no stored AWS Config results for the sweep's cleanup to list or the test to read back`;
}

function sdkClients() {
  return { ec2: new EC2Client({}), config: new ConfigServiceClient({}), sns: new SNSClient({}), sqs: new SQSClient({}) };
}

function destroy(clients: ReturnType<typeof sdkClients>): void {
  clients.ec2.destroy();
  clients.config.destroy();
  clients.sns.destroy();
  clients.sqs.destroy();
}

async function describeInstance(ec2: EC2Client, instanceId: string): Promise<Instance | undefined> {
  const response = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId], IncludeManagedResources: true }));
  return response.Reservations?.[0]?.Instances?.[0];
}

async function readResults(config: ConfigServiceClient, ruleName: string): Promise<Map<string, string>> {
  const results = new Map<string, string>();
  for await (const page of paginateGetComplianceDetailsByConfigRule({ client: config, pageSize: 100 }, { ConfigRuleName: ruleName })) {
    for (const result of page.EvaluationResults ?? []) {
      const id = result.EvaluationResultIdentifier?.EvaluationResultQualifier?.ResourceId;
      if (id !== undefined && result.ComplianceType !== undefined) results.set(id, result.ComplianceType);
    }
  }
  return results;
}

/**
 * The NON_COMPLIANT compliance-change events EventBridge would deliver to remediation: the
 * emulator's own (emitted when a result changes), or, on an external endpoint that emits none,
 * built from the stored results in the same shape.
 */
export async function nonCompliantEvents(target: Target): Promise<unknown[]> {
  const isNonCompliant = (event: ComplianceChangeEvent) => event.detail.newEvaluationResult.complianceType === 'NON_COMPLIANT';
  if (target.emulator !== undefined) return target.emulator.drainComplianceEvents().filter(isNonCompliant);
  const events: unknown[] = [];
  for (const [resourceId, complianceType] of await target.results()) {
    if (complianceType === 'NON_COMPLIANT') events.push(nonCompliantEvent(target, resourceId));
  }
  return events;
}

/** The "Config Rules Compliance Change" event for one instance the rule found NON_COMPLIANT. */
export function nonCompliantEvent(target: Target, resourceId: string): unknown {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'Config Rules Compliance Change',
    source: 'aws.config',
    account: target.accountId,
    // EventBridge envelope times carry no milliseconds.
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: target.region,
    resources: [],
    detail: {
      resourceId,
      awsRegion: target.region,
      awsAccountId: target.accountId,
      configRuleName: RULE_NAME,
      recordVersion: '1.0',
      messageType: 'ComplianceChangeNotification',
      resourceType: 'AWS::EC2::Instance',
      newEvaluationResult: { complianceType: 'NON_COMPLIANT' },
      notificationCreationTime: new Date().toISOString(),
    },
  };
}
