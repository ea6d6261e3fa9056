import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  ModifyInstanceMetadataOptionsCommand,
  type CreateTagsRequest,
  type EC2Client,
  type Instance,
  type ModifyInstanceMetadataOptionsRequest,
} from '@aws-sdk/client-ec2';
import type { SQSEvent } from 'aws-lambda';
import { sqsInvocation } from '../../emulator/invocations.ts';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { loadRemediationConfig, type RemediationConfig } from '../../functions/remediate-imds/config.ts';
import { LEDGER_TAG_KEY, parseLedger, type Ledger } from '../../functions/remediate-imds/ledger.ts';

export const ACCOUNT = '111122223333';
export const REGION = 'us-east-1';
export const RULE_NAME = 'eks-imds-guard';
export const INSTANCE_ID = 'i-0123456789abcdef0';
export const EVENT_ID = 'c0bb891c-77fe-8518-14fc-be78b966f95b';
export const TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:eks-imds-guard-remediation`;
export const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:eks-imds-guard-remediate`;
export const EVENT_TIME = '2026-11-20T09:15:05Z';
export const QUEUE_URL = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/eks-imds-guard-remediation`;
export const DEAD_LETTER_QUEUE_URL = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/eks-imds-guard-remediation-failures`;

/** Tags a managed node group node carries (EKS, the cloud provider and the launch template). */
export function managedNodeTags(cluster = 'prod', nodegroup = 'general'): Record<string, string> {
  return {
    'eks:cluster-name': cluster,
    'eks:nodegroup-name': nodegroup,
    [`kubernetes.io/cluster/${cluster}`]: 'owned',
    'aws:eks:cluster-name': cluster,
    'aws:ec2launchtemplate:id': 'lt-0a1b2c3d4e5f67890',
    'aws:ec2launchtemplate:version': '3',
    'aws:autoscaling:groupName': `eks-${nodegroup}-20261101-ab12cd34`,
  };
}

/** Tags of a Karpenter v1 node: node pool, node claim, EC2NodeClass and Karpenter's launch template. */
export function karpenterNodeTags(cluster = 'prod', nodePool = 'default'): Record<string, string> {
  return {
    'karpenter.sh/nodepool': nodePool,
    'karpenter.sh/nodeclaim': `${nodePool}-x7k2p`,
    'karpenter.k8s.aws/ec2nodeclass': 'default',
    'eks:eks-cluster-name': cluster,
    [`kubernetes.io/cluster/${cluster}`]: 'owned',
    'aws:ec2launchtemplate:id': 'lt-0fedcba9876543210',
    'aws:ec2launchtemplate:version': '1',
  };
}

/** Tags of an EKS Auto Mode node (an EC2 managed instance operated by EKS). */
export function autoModeNodeTags(cluster = 'prod'): Record<string, string> {
  return {
    'eks:eks-cluster-name': cluster,
    'eks:kubernetes-node-pool-name': 'general-purpose',
    [`kubernetes.io/cluster/${cluster}`]: 'owned',
  };
}

export interface NodeShape {
  readonly instanceId?: string;
  readonly state?: 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';
  readonly metadataState?: 'pending' | 'applied';
  readonly httpTokens?: 'optional' | 'required' | undefined;
  readonly hopLimit?: number | undefined;
  readonly httpEndpoint?: 'enabled' | 'disabled' | undefined;
  readonly instanceProfile?: boolean;
  readonly tags?: Record<string, string>;
  readonly operator?: { readonly managed: boolean; readonly principal?: string };
}

const STATE_CODES = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 } as const;

/**
 * One instance as DescribeInstances returns it: by default a running managed node group node
 * with the AL2023 defaults that break pods (tokens required, hop limit 1).
 */
export function anEksNode(shape: NodeShape = {}): Instance {
  const instanceId = shape.instanceId ?? INSTANCE_ID;
  const state = shape.state ?? 'running';
  return {
    InstanceId: instanceId,
    ImageId: 'ami-0c2d3e4f5a6b7c8d9',
    InstanceType: 'm7g.large',
    LaunchTime: new Date('2026-11-01T08:00:00Z'),
    Placement: { AvailabilityZone: `${REGION}a`, Tenancy: 'default' },
    PrivateDnsName: 'ip-10-0-12-34.ec2.internal',
    State: { Code: STATE_CODES[state], Name: state },
    ...(shape.instanceProfile === false
      ? {}
      : {
          IamInstanceProfile: {
            Arn: `arn:aws:iam::${ACCOUNT}:instance-profile/eks-general-node`,
            Id: 'AIPAEXAMPLEPROFILE0001',
          },
        }),
    MetadataOptions: {
      State: shape.metadataState ?? 'applied',
      ...('httpTokens' in shape ? (shape.httpTokens === undefined ? {} : { HttpTokens: shape.httpTokens }) : { HttpTokens: 'required' }),
      ...('hopLimit' in shape ? (shape.hopLimit === undefined ? {} : { HttpPutResponseHopLimit: shape.hopLimit }) : { HttpPutResponseHopLimit: 1 }),
      ...('httpEndpoint' in shape
        ? shape.httpEndpoint === undefined
          ? {}
          : { HttpEndpoint: shape.httpEndpoint }
        : { HttpEndpoint: 'enabled' }),
      HttpProtocolIpv6: 'disabled',
      InstanceMetadataTags: 'disabled',
    },
    Tags: Object.entries(shape.tags ?? managedNodeTags()).map(([Key, Value]) => ({ Key, Value })),
    ...(shape.operator ? { Operator: { Managed: shape.operator.managed, Principal: shape.operator.principal } } : {}),
  };
}

export interface EventShape {
  readonly id?: string;
  readonly instanceId?: string;
  readonly configRuleName?: string;
  readonly account?: string;
  readonly region?: string;
  readonly complianceType?: string;
  readonly resourceType?: string;
  readonly annotation?: string;
}

/** A "Config Rules Compliance Change" event as EventBridge delivers it (shape of a real one). */
export function aComplianceChangeEvent(shape: EventShape = {}): Record<string, unknown> {
  const ruleName = shape.configRuleName ?? RULE_NAME;
  const resourceType = shape.resourceType ?? 'AWS::EC2::Instance';
  const resourceId = shape.instanceId ?? INSTANCE_ID;
  const account = shape.account ?? ACCOUNT;
  const region = shape.region ?? REGION;
  const qualifier = { configRuleName: ruleName, resourceType, resourceId };
  return {
    version: '0',
    id: shape.id ?? EVENT_ID,
    'detail-type': 'Config Rules Compliance Change',
    source: 'aws.config',
    account,
    time: EVENT_TIME,
    region,
    resources: [],
    detail: {
      resourceId,
      awsRegion: region,
      awsAccountId: account,
      configRuleName: ruleName,
      recordVersion: '1.0',
      configRuleARN: `arn:aws:config:${region}:${account}:config-rule/config-rule-eguym2`,
      messageType: 'ComplianceChangeNotification',
      newEvaluationResult: {
        evaluationResultIdentifier: { evaluationResultQualifier: qualifier, orderingTimestamp: '2026-11-20T09:14:50.251Z' },
        complianceType: shape.complianceType ?? 'NON_COMPLIANT',
        resultRecordedTime: '2026-11-20T09:15:04.741Z',
        configRuleInvokedTime: '2026-11-20T09:15:04.332Z',
        annotation:
          shape.annotation ??
          `HopLimit 1 (want >=2); cluster "prod". Fix: aws ec2 modify-instance-metadata-options --instance-id ${resourceId} --http-tokens required --http-put-response-hop-limit 2`,
      },
      oldEvaluationResult: {
        evaluationResultIdentifier: { evaluationResultQualifier: qualifier, orderingTimestamp: '2026-11-19T09:02:33.749Z' },
        complianceType: 'COMPLIANT',
        resultRecordedTime: '2026-11-19T09:02:44.919Z',
        configRuleInvokedTime: '2026-11-19T09:02:44.583Z',
      },
      notificationCreationTime: '2026-11-20T09:15:05.751Z',
      resourceType,
    },
  };
}

export const LAUNCH_EVENT_ID = '7bf73129-1428-4cd3-a780-95db273d1602';
export const LAUNCH_TIME = '2026-11-20T09:15:08Z';

export interface LaunchShape {
  readonly id?: string;
  readonly instanceId?: string;
  readonly state?: string;
  readonly account?: string;
  readonly region?: string;
  readonly time?: string;
}

/** An "EC2 Instance State-change Notification" as EventBridge delivers it (shape of a real one). */
export function aStateChangeEvent(shape: LaunchShape = {}): Record<string, unknown> {
  const account = shape.account ?? ACCOUNT;
  const region = shape.region ?? REGION;
  const instanceId = shape.instanceId ?? INSTANCE_ID;
  return {
    version: '0',
    id: shape.id ?? LAUNCH_EVENT_ID,
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    account,
    time: shape.time ?? LAUNCH_TIME,
    region,
    resources: [`arn:aws:ec2:${region}:${account}:instance/${instanceId}`],
    detail: { 'instance-id': instanceId, state: shape.state ?? 'running' },
  };
}

/** A function configuration as the template sets it, with overrides. */
export function aConfig(env: Record<string, string | undefined> = {}): RemediationConfig {
  return loadRemediationConfig({
    CONFIG_RULE_NAME: RULE_NAME,
    TOPIC_ARN,
    AWS_REGION: REGION,
    REMEDIATION_QUEUE_URL: QUEUE_URL,
    DEAD_LETTER_QUEUE_URL,
    ...env,
  });
}

/**
 * The batch an SQS event source mapping hands the function: each body is the EventBridge event
 * as EventBridge sent it to the queue (a string body is taken as is, e.g. one that is not JSON).
 */
export function anSqsEvent(bodies: readonly unknown[], options: { receiveCount?: number } = {}): SQSEvent {
  const messages = bodies.map((body, i) => ({
    MessageId: `0e2a6b0c-5d1f-4c3a-9b8e-${String(i).padStart(12, '0')}`,
    ReceiptHandle: `AQEB-receipt-${i}`,
    Body: typeof body === 'string' ? body : JSON.stringify(body),
    Attributes: { ApproximateReceiveCount: String(options.receiveCount ?? 1) },
  }));
  return sqsInvocation(messages, `arn:aws:sqs:${REGION}:${ACCOUNT}:eks-imds-guard-remediation`);
}

export function awsError(name: string, message = name): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: 400 } });
}

export interface FakeEc2 {
  current(): Instance | undefined;
  /** Real (not DryRun) ModifyInstanceMetadataOptions calls that changed the instance. */
  readonly modifications: ModifyInstanceMetadataOptionsRequest[];
  /** CreateTags calls that tagged the instance. */
  readonly tagWrites: CreateTagsRequest[];
  /** The ledger tag on the instance now, parsed (undefined when absent or unparseable). */
  ledger(): Ledger | undefined;
  /** Sets the instance's metadata options as someone else (a person, another tool) would. */
  setMetadata(options: Partial<NonNullable<Instance['MetadataOptions']>>): void;
  /** When it returns an error, CreateTags fails with it and tags nothing. */
  tagFault: ((input: CreateTagsRequest) => Error | undefined) | undefined;
  /** When it returns an error, ModifyInstanceMetadataOptions fails with it, after changing the instance when `landed`. */
  modifyFault: ((input: ModifyInstanceMetadataOptionsRequest) => { error: Error; landed: boolean } | undefined) | undefined;
  /** When it returns an error, DescribeInstances fails with it. */
  describeFault: (() => Error | undefined) | undefined;
  /**
   * Runs before every call takes effect; the call waits for the promise it returns. `client` is
   * the SDK client that sent it (one per harness: one per invocation in a race).
   */
  gate: ((operation: Ec2Operation, client: unknown) => Promise<void> | undefined) | undefined;
}

export type Ec2Operation = 'DescribeInstances' | 'ModifyInstanceMetadataOptions' | 'CreateTags';

/**
 * EC2 as far as remediation sees it, for one instance: DescribeInstances returns it as it is
 * now, a real ModifyInstanceMetadataOptions changes it (State pending, applied from the
 * `readsUntilApplied`-th read on), a DryRun answers DryRunOperation like EC2 does, CreateTags
 * adds or overwrites tags. State lives here, not in the remediator's dependencies: a fresh
 * harness over the same fake is another execution environment meeting the same instance.
 */
export function fakeEc2(
  stub: AwsClientStub<EC2Client>,
  initial: Instance | undefined,
  options: { readsUntilApplied?: number } = {},
): FakeEc2 {
  const readsUntilApplied = options.readsUntilApplied ?? 1;
  let instance = initial === undefined ? undefined : structuredClone(initial);
  let pendingReads = 0;
  const modifications: ModifyInstanceMetadataOptionsRequest[] = [];
  const tagWrites: CreateTagsRequest[] = [];
  const notFound = (id: string | undefined) => awsError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
  const fake: FakeEc2 = {
    current: () => instance,
    modifications,
    tagWrites,
    ledger: () => parseLedger(instance?.Tags?.find((tag) => tag.Key === LEDGER_TAG_KEY)?.Value),
    setMetadata: (metadata) => {
      if (instance !== undefined) instance.MetadataOptions = { ...instance.MetadataOptions, ...metadata };
    },
    tagFault: undefined,
    modifyFault: undefined,
    describeFault: undefined,
    gate: undefined,
  };
  // Without a gate every call answers synchronously, as before; with one, it takes effect when released.
  const gated =
    <I, O>(operation: Ec2Operation, act: (input: I) => O) =>
    (input: I, getClient: () => unknown): O | Promise<O> => {
      const wait = fake.gate?.(operation, getClient());
      return wait === undefined ? act(input) : wait.then(() => act(input));
    };
  stub.on(DescribeInstancesCommand).callsFake(gated('DescribeInstances', () => {
    const fault = fake.describeFault?.();
    if (fault !== undefined) throw fault;
    if (instance === undefined) return { Reservations: [] };
    const metadata = instance.MetadataOptions;
    if (metadata?.State === 'pending' && ++pendingReads >= readsUntilApplied) metadata.State = 'applied';
    return { Reservations: [{ ReservationId: 'r-0123456789abcdef0', OwnerId: ACCOUNT, Instances: [structuredClone(instance)] }] };
  }));
  stub.on(ModifyInstanceMetadataOptionsCommand).callsFake(gated('ModifyInstanceMetadataOptions', (input: ModifyInstanceMetadataOptionsRequest) => {
    if (input.DryRun) throw awsError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
    if (instance === undefined || input.InstanceId !== instance.InstanceId) throw notFound(input.InstanceId);
    const fault = fake.modifyFault?.(input);
    if (fault !== undefined && !fault.landed) throw fault.error;
    modifications.push(input);
    instance.MetadataOptions = {
      ...instance.MetadataOptions,
      State: 'pending',
      ...(input.HttpTokens ? { HttpTokens: input.HttpTokens } : {}),
      ...(input.HttpPutResponseHopLimit ? { HttpPutResponseHopLimit: input.HttpPutResponseHopLimit } : {}),
      ...(input.HttpEndpoint ? { HttpEndpoint: input.HttpEndpoint } : {}),
    };
    pendingReads = 0;
    if (fault !== undefined) throw fault.error;
    return { InstanceId: input.InstanceId, InstanceMetadataOptions: { ...instance.MetadataOptions } };
  }));
  stub.on(CreateTagsCommand).callsFake(gated('CreateTags', (input: CreateTagsRequest) => {
    const id = input.Resources?.[0];
    if (instance === undefined || input.Resources?.length !== 1 || id !== instance.InstanceId) throw notFound(id);
    const fault = fake.tagFault?.(input);
    if (fault !== undefined) throw fault;
    tagWrites.push(input);
    const tags = new Map((instance.Tags ?? []).map((tag) => [tag.Key, tag.Value]));
    for (const tag of input.Tags ?? []) tags.set(tag.Key, tag.Value ?? '');
    instance.Tags = [...tags].map(([Key, Value]) => ({ Key, Value }));
    return {};
  }));
  return fake;
}
