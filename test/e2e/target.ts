import { ConfigServiceClient, paginateGetComplianceDetailsByConfigRule } from '@aws-sdk/client-config-service';
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { startEmulator, type ComplianceChangeEvent, type Emulator, type InstanceSpec } from '../../emulator/index.ts';
import { lambdaContext, scheduledInvocation } from '../../emulator/invocations.ts';
import { createRemediationQueues, type RemediationQueues } from '../../emulator/event-source.ts';

/**
 * Where the end-to-end suite runs: the project's loopback emulator (default), or an external
 * AWS-compatible endpoint (LocalStack, moto) when AWS_ENDPOINT_URL is set before the suite
 * starts. Either way the handlers reach it only through AWS_ENDPOINT_URL.
 */
export const EXTERNAL_ENDPOINT = process.env.AWS_ENDPOINT_URL;
export const onEmulator = EXTERNAL_ENDPOINT === undefined;

export const RULE_NAME = 'eks-imds-guard';
const EXTERNAL_ACCOUNT = '000000000000';

export interface Target {
  /** Present on the emulator only: fault injection, call counts, event emission, SNS records. */
  readonly emulator: Emulator | undefined;
  readonly accountId: string;
  readonly region: string;
  readonly topicArn: string;
  /** The remediation queue the compliance changes go to, and its dead-letter queue. */
  readonly queues: RemediationQueues;
  readonly sqs: SQSClient;
  seed(spec: InstanceSpec): Promise<string>;
  describe(instanceId: string): Promise<Instance | undefined>;
  /** The rule's stored results, read back through the Config API. */
  results(ruleName?: string): Promise<Map<string, string>>;
  sweepEvent(ruleParameters: Record<string, string>, ruleName?: string, now?: Date): unknown;
  context(functionName: string): Context;
  close(): Promise<void>;
}

/** Starts the target and sets the environment the handlers read at import: import them after. */
export async function startTarget(remediationEnv: Record<string, string> = {}): Promise<Target> {
  const target = onEmulator ? await emulatorTarget() : await externalTarget();
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

async function emulatorTarget(): Promise<Target> {
  const emulator = await startEmulator({ applyDelayMs: 20 });
  Object.assign(process.env, emulator.clientEnv());
  const clients = sdkClients();
  return {
    emulator,
    accountId: emulator.accountId,
    region: emulator.region,
    topicArn: emulator.createTopic('eks-imds-guard-e2e'),
    queues: await createRemediationQueues(clients.sqs),
    sqs: clients.sqs,
    seed: async (spec) => emulator.addInstance(spec),
    describe: (id) => describeInstance(clients.ec2, id),
    results: (ruleName = RULE_NAME) => readResults(clients.config, ruleName),
    sweepEvent: (ruleParameters, ruleName = RULE_NAME, now) => scheduledInvocation(emulator, { ruleName, ruleParameters, ...(now ? { at: now } : {}) }),
    context: (name) => lambdaContext(emulator, name),
    close: async () => {
      destroy(clients);
      await emulator.close();
    },
  };
}

/**
 * An external endpoint: instances are launched with RunInstances (tags and metadata options in
 * the request), the topic is created with CreateTopic. Written for LocalStack and moto; this
 * machine has neither, so this path has not been run here.
 */
async function externalTarget(): Promise<Target> {
  const region = process.env.AWS_REGION ?? 'us-east-1';
  Object.assign(process.env, {
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'test',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
  });
  const clients = sdkClients();
  const topic = await clients.sns.send(new CreateTopicCommand({ Name: 'eks-imds-guard-e2e' }));
  const context = (functionName: string): Context =>
    ({
      functionName,
      invokedFunctionArn: `arn:aws:lambda:${region}:${EXTERNAL_ACCOUNT}:function:${functionName}`,
      getRemainingTimeInMillis: () => 120_000,
    }) as Context;
  return {
    emulator: undefined,
    accountId: EXTERNAL_ACCOUNT,
    region,
    topicArn: topic.TopicArn ?? '',
    queues: await createRemediationQueues(clients.sqs),
    sqs: clients.sqs,
    seed: async (spec) => {
      const options = spec.metadataOptions ?? {};
      const launched = await clients.ec2.send(
        new RunInstancesCommand({
          ImageId: 'ami-12345678',
          InstanceType: 't3.micro',
          MinCount: 1,
          MaxCount: 1,
          ...(spec.iamInstanceProfile ? { IamInstanceProfile: { Arn: spec.iamInstanceProfile.arn } } : {}),
          MetadataOptions: {
            HttpTokens: options.httpTokens,
            HttpPutResponseHopLimit: options.httpPutResponseHopLimit,
            HttpEndpoint: options.httpEndpoint,
          },
          TagSpecifications: [
            {
              ResourceType: 'instance',
              // `aws:` keys are reserved for AWS: an external endpoint may refuse them.
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
    sweepEvent: (ruleParameters, ruleName = RULE_NAME, now = new Date()) => ({
      version: '1.0',
      invokingEvent: JSON.stringify({
        awsAccountId: EXTERNAL_ACCOUNT,
        notificationCreationTime: now.toISOString(),
        messageType: 'ScheduledNotification',
        recordVersion: '1.0',
      }),
      ruleParameters: JSON.stringify(ruleParameters),
      resultToken: 'external-endpoint-token',
      eventLeftScope: false,
      configRuleName: ruleName,
      accountId: EXTERNAL_ACCOUNT,
    }),
    context,
    close: async () => destroy(clients),
  };
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
    if (complianceType !== 'NON_COMPLIANT') continue;
    events.push({
      version: '0',
      id: crypto.randomUUID(),
      'detail-type': 'Config Rules Compliance Change',
      source: 'aws.config',
      account: target.accountId,
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
        newEvaluationResult: { complianceType },
      },
    });
  }
  return events;
}
