export { startEmulator, Emulator, type EmulatorOptions } from './server.ts';
export type { FaultSpec } from './faults.ts';
export type { Counter } from './counter.ts';
export type { ComplianceChangeEvent, EvaluationResultJson, StoredEvaluation, ConfigRuleInfo, ComplianceType, RecorderSpec } from './config.ts';
export type { SeededEvaluation } from './config-aggregator.ts';
export type { PublishedMessage, MessageAttribute } from './sns.ts';
export type { PutEvent } from './events.ts';
export type { LaunchOptions, MetadataChange, StateChangeEvent } from './ec2.ts';
export type { Instance, InstanceSpec, InstanceStateName, MetadataOptions, InstanceOperator, IamInstanceProfile } from './instance.ts';
export * from './fleet.ts';
export { EKS_NODE_DETAIL, type NodeDetail } from './node-detail.ts';
export { AwsError, EmulatorUsageError } from './errors.ts';
export {
  changeInvocation,
  lambdaContext,
  scheduledInvocation,
  sqsInvocation,
  type ChangeOptions,
  type ConfigRuleInvocation,
  type ReceivedMessage,
} from './invocations.ts';
export type { QueuedMessage } from './sqs.ts';
export type { AccountMetadataDefaults, DeclaredOptions, ImageSpec, LaunchTemplate, LaunchTemplateSpec, LaunchTemplateVersionSpec, TagSpecification } from './launch-templates.ts';
export type { AutoScalingGroup, AutoScalingGroupSpec, GroupTag, LaunchConfigurationSpec, TemplateRef } from './autoscaling.ts';
export { seedSourcesFleet, type SourceMember } from './sources-fleet.ts';
export { sourceChangeInvocation, type SourceChangeOptions } from './source-invocations.ts';
