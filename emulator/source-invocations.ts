import { EmulatorUsageError } from './errors.ts';
import { invocation, type ConfigRuleInvocation, type RuleOptions } from './invocations.ts';
import type { Emulator } from './server.ts';

export interface SourceChangeOptions extends RuleOptions {
  resourceType: 'AWS::AutoScaling::AutoScalingGroup' | 'AWS::EC2::LaunchTemplate';
  /** The group's name or the template's id. */
  resourceId: string;
}

/**
 * A change-triggered invocation whose configuration item reflects the group or template as it
 * is now, shaped as AWS Config records them (awslabs/aws-config-resource-schema:
 * AWS::AutoScaling::AutoScalingGroup is camelCase, AWS::EC2::LaunchTemplate is PascalCase with
 * version numbers as strings and the default version's LaunchTemplateData).
 */
export function sourceChangeInvocation(emulator: Emulator, options: SourceChangeOptions): ConfigRuleInvocation {
  const at = options.at ?? new Date();
  const { configuration, tags, arn } = options.resourceType === 'AWS::AutoScaling::AutoScalingGroup' ? groupItem(emulator, options.resourceId) : templateItem(emulator, options.resourceId);
  const invokingEvent = {
    configurationItemDiff: null,
    configurationItem: {
      relatedEvents: [],
      relationships: [],
      configuration,
      supplementaryConfiguration: {},
      tags,
      configurationItemVersion: '1.3',
      configurationItemCaptureTime: at.toISOString(),
      configurationStateId: at.getTime(),
      awsAccountId: emulator.accountId,
      configurationItemStatus: 'OK',
      resourceType: options.resourceType,
      resourceId: options.resourceId,
      ARN: arn,
      awsRegion: emulator.region,
    },
    notificationCreationTime: at.toISOString(),
    messageType: 'ConfigurationItemChangeNotification',
    recordVersion: '1.3',
  };
  return invocation(emulator, options, at, false, invokingEvent);
}

function groupItem(emulator: Emulator, name: string) {
  const group = emulator.autoscaling.get(name);
  if (group === undefined) throw new EmulatorUsageError(`no Auto Scaling group ${name} in the emulator`);
  return {
    arn: group.arn,
    tags: Object.fromEntries(group.tags.map((t) => [t.key, t.value])),
    configuration: {
      autoScalingGroupName: group.name,
      autoScalingGroupARN: group.arn,
      ...(group.launchTemplate ? { launchTemplate: group.launchTemplate } : {}),
      ...(group.launchConfigurationName ? { launchConfigurationName: group.launchConfigurationName } : {}),
      ...(group.mixedInstancesPolicy
        ? {
            mixedInstancesPolicy: {
              launchTemplate: {
                launchTemplateSpecification: group.mixedInstancesPolicy.launchTemplate,
                overrides: (group.mixedInstancesPolicy.overrides ?? []).map((o) => ({
                  instanceType: o.instanceType,
                  ...(o.launchTemplate ? { launchTemplateSpecification: o.launchTemplate } : {}),
                })),
              },
            },
          }
        : {}),
      minSize: group.minSize,
      maxSize: group.maxSize,
      desiredCapacity: group.desiredCapacity,
      instances: group.instanceIds.map((instanceId) => ({ instanceId, lifecycleState: 'InService', healthStatus: 'Healthy' })),
    },
  };
}

function templateItem(emulator: Emulator, id: string) {
  const template = emulator.launchTemplates.get(id);
  if (template === undefined) throw new EmulatorUsageError(`no launch template ${id} in the emulator`);
  const latest = Math.max(...template.versions.map((v) => v.versionNumber));
  const data = template.versions.find((v) => v.versionNumber === template.defaultVersion);
  const options = data?.metadataOptions;
  return {
    arn: `arn:aws:ec2:${emulator.region}:${emulator.accountId}:launch-template/${template.id}`,
    tags: { ...template.tags },
    configuration: {
      Id: template.id,
      LaunchTemplateName: template.name,
      DefaultVersionNumber: String(template.defaultVersion),
      LatestVersionNumber: String(latest),
      LaunchTemplateData: {
        ...(data?.imageId ? { ImageId: data.imageId } : {}),
        ...(options
          ? {
              MetadataOptions: {
                ...(options.httpTokens ? { HttpTokens: options.httpTokens } : {}),
                ...(options.httpPutResponseHopLimit ? { HttpPutResponseHopLimit: options.httpPutResponseHopLimit } : {}),
                ...(options.httpEndpoint ? { HttpEndpoint: options.httpEndpoint } : {}),
              },
            }
          : {}),
      },
    },
  };
}
