/** Knobs for an instance as AWS Config records it; defaults are a compliant managed node. */
export interface InstanceShape {
  instanceId?: string;
  state?: string;
  httpTokens?: string;
  hopLimit?: number;
  httpEndpoint?: string;
  metadataState?: string;
  instanceProfile?: boolean;
  tags?: Record<string, string>;
  operator?: { managed: boolean; principal?: string };
}

export const ACCOUNT_ID = '111122223333';
export const REGION = 'us-east-1';
export const RULE_NAME = 'eks-imds-guard';
export const CAPTURE_TIME = '2026-11-27T10:15:30.123Z';

export const managedNodeTags = (cluster = 'prod'): Record<string, string> => ({
  'eks:cluster-name': cluster,
  'eks:nodegroup-name': 'ng-general',
  [`kubernetes.io/cluster/${cluster}`]: 'owned',
  'aws:ec2launchtemplate:id': 'lt-0abc1234def567890',
  'aws:ec2launchtemplate:version': '3',
});

/** `configuration` of an AWS::EC2::Instance item: the DescribeInstances shape in camelCase. */
export function anInstanceConfiguration(shape: InstanceShape = {}) {
  const instanceId = shape.instanceId ?? 'i-0123456789abcdef0';
  return {
    instanceId,
    imageId: 'ami-0f1e2d3c4b5a69788',
    instanceType: 'm7g.large',
    state: { code: shape.state === 'terminated' ? 48 : 16, name: shape.state ?? 'running' },
    iamInstanceProfile:
      shape.instanceProfile === false
        ? null
        : { arn: `arn:aws:iam::${ACCOUNT_ID}:instance-profile/eks-node`, id: 'AIPAEXAMPLEPROFILEID' },
    metadataOptions: {
      state: shape.metadataState ?? 'applied',
      httpTokens: shape.httpTokens ?? 'required',
      httpPutResponseHopLimit: shape.hopLimit ?? 2,
      httpEndpoint: shape.httpEndpoint ?? 'enabled',
      httpProtocolIpv6: 'disabled',
      instanceMetadataTags: 'disabled',
    },
    ...(shape.operator ? { operator: shape.operator } : {}),
  };
}

export interface ItemShape extends InstanceShape {
  resourceType?: string;
  status?: string;
  captureTime?: string;
}

/** What every configuration item carries around its `configuration`, whatever the resource type. */
export interface EnvelopeShape {
  resourceType: string;
  resourceId: string;
  arn: string;
  status?: string;
  captureTime?: string;
  stateId: string;
  availabilityZone: string;
  tags: Record<string, string>;
}

/** The item around a configuration; a deleted item carries none, as AWS Config sends it. */
export function anItemEnvelope(envelope: EnvelopeShape, configuration: unknown) {
  const status = envelope.status ?? 'OK';
  return {
    version: '1.3',
    accountId: ACCOUNT_ID,
    configurationItemCaptureTime: envelope.captureTime ?? CAPTURE_TIME,
    configurationItemStatus: status,
    configurationStateId: envelope.stateId,
    arn: envelope.arn,
    resourceType: envelope.resourceType,
    resourceId: envelope.resourceId,
    awsRegion: REGION,
    availabilityZone: envelope.availabilityZone,
    tags: envelope.tags,
    relationships: [],
    configuration: status.startsWith('ResourceDeleted') ? null : configuration,
  };
}

/** A configuration item shaped like the ones AWS Config sends (tags as a map). */
export function aConfigurationItem(shape: ItemShape = {}) {
  const configuration = anInstanceConfiguration(shape);
  return anItemEnvelope(
    {
      resourceType: shape.resourceType ?? 'AWS::EC2::Instance',
      resourceId: configuration.instanceId,
      arn: `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:instance/${configuration.instanceId}`,
      ...(shape.status === undefined ? {} : { status: shape.status }),
      ...(shape.captureTime === undefined ? {} : { captureTime: shape.captureTime }),
      stateId: '1732702530123',
      availabilityZone: `${REGION}a`,
      tags: shape.tags ?? managedNodeTags(),
    },
    configuration,
  );
}

export interface EventShape {
  ruleParameters?: Record<string, unknown> | string;
  resultToken?: string;
  eventLeftScope?: boolean;
}

export function anEvent(invokingEvent: Record<string, unknown>, shape: EventShape) {
  const ruleParameters = shape.ruleParameters;
  return {
    version: '1.0',
    invokingEvent: JSON.stringify(invokingEvent),
    ...(ruleParameters === undefined
      ? {}
      : { ruleParameters: typeof ruleParameters === 'string' ? ruleParameters : JSON.stringify(ruleParameters) }),
    resultToken: shape.resultToken ?? 'result-token-abc',
    eventLeftScope: shape.eventLeftScope ?? false,
    executionRoleArn: `arn:aws:iam::${ACCOUNT_ID}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig`,
    configRuleArn: `arn:aws:config:${REGION}:${ACCOUNT_ID}:config-rule/config-rule-abc123`,
    configRuleName: RULE_NAME,
    configRuleId: 'config-rule-abc123',
    accountId: ACCOUNT_ID,
    evaluationMode: 'DETECTIVE',
  };
}

export function aChangeEvent(shape: ItemShape & EventShape = {}) {
  return anEvent(
    {
      configurationItemDiff: null,
      configurationItem: aConfigurationItem(shape),
      notificationCreationTime: '2026-11-27T10:15:31.000Z',
      messageType: 'ConfigurationItemChangeNotification',
      recordVersion: '1.3',
    },
    shape,
  );
}

export function anOversizedEvent(shape: ItemShape & EventShape = {}) {
  const item = aConfigurationItem(shape);
  return anEvent(
    {
      configurationItemSummary: {
        changeType: 'UPDATE',
        configurationItemVersion: '1.3',
        configurationItemCaptureTime: item.configurationItemCaptureTime,
        configurationStateId: 1732702530123,
        awsAccountId: ACCOUNT_ID,
        configurationItemStatus: item.configurationItemStatus,
        resourceType: item.resourceType,
        resourceId: item.resourceId,
        ARN: item.arn,
        awsRegion: REGION,
        availabilityZone: item.availabilityZone,
        configurationStateMd5Hash: '',
        resourceCreationTime: '2026-11-01T00:00:00.000Z',
      },
      s3DeliverySummary: { s3BucketLocation: 'config-bucket/oversized/item.json' },
      notificationCreationTime: '2026-11-27T10:15:31.000Z',
      messageType: 'OversizedConfigurationItemChangeNotification',
      recordVersion: '1.0',
    },
    shape,
  );
}

export const SWEEP_TIME = '2026-11-27T12:00:00.000Z';

export function aScheduledEvent(shape: EventShape & { notificationCreationTime?: string } = {}) {
  return anEvent(
    {
      awsAccountId: ACCOUNT_ID,
      notificationCreationTime: shape.notificationCreationTime ?? SWEEP_TIME,
      messageType: 'ScheduledNotification',
      recordVersion: '1.0',
    },
    shape,
  );
}
