/**
 * Configuration items for the two source resource types, shaped like the ones AWS Config records.
 * Field names and nesting follow awslabs/aws-config-resource-schema:
 *   config/properties/resource-types/AWS::EC2::LaunchTemplate.properties.json
 *     (PascalCase `configuration`: Id, LaunchTemplateName, DefaultVersionNumber and
 *     LatestVersionNumber as strings, LaunchTemplateData.MetadataOptions.*, LaunchTemplateData.ImageId)
 *   config/properties/resource-types/AWS::AutoScaling::AutoScalingGroup.properties.json
 *     (camelCase `configuration`: autoScalingGroupName, launchTemplate.{launchTemplateId,
 *     launchTemplateName, version}, mixedInstancesPolicy.launchTemplate.launchTemplateSpecification
 *     and .overrides[].launchTemplateSpecification, launchConfigurationName, instances[])
 * Tags travel as the item's `tags` map, as for every resource type.
 */
import { ACCOUNT_ID, anEvent, anItemEnvelope, REGION, type EventShape } from './config-item.ts';

export interface LaunchTemplateItemShape {
  id?: string;
  name?: string;
  defaultVersion?: number;
  latestVersion?: number;
  metadataOptions?: Record<string, unknown> | null;
  imageId?: string;
  tags?: Record<string, string>;
  status?: string;
  captureTime?: string;
}

export function aLaunchTemplateItem(shape: LaunchTemplateItemShape = {}) {
  const id = shape.id ?? 'lt-0abc1234def567890';
  const name = shape.name ?? 'prod-general-nodes';
  return {
    ...anItemEnvelope(
      {
        resourceType: 'AWS::EC2::LaunchTemplate',
        resourceId: id,
        arn: `arn:aws:ec2:${REGION}:${ACCOUNT_ID}:launch-template/${id}`,
        ...(shape.status === undefined ? {} : { status: shape.status }),
        ...(shape.captureTime === undefined ? {} : { captureTime: shape.captureTime }),
        stateId: '1732702530456',
        availabilityZone: 'Not Applicable',
        tags: shape.tags ?? { 'eks:cluster-name': 'prod' },
      },
      {
        Id: id,
        LaunchTemplateName: name,
        DefaultVersionNumber: String(shape.defaultVersion ?? 1),
        LatestVersionNumber: String(shape.latestVersion ?? shape.defaultVersion ?? 1),
        LaunchTemplateData: {
          ...(shape.imageId ? { ImageId: shape.imageId } : {}),
          InstanceType: 'm7g.large',
          ...(shape.metadataOptions === null
            ? {}
            : { MetadataOptions: shape.metadataOptions ?? { HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' } }),
        },
      },
    ),
    resourceName: name,
    resourceCreationTime: '2026-10-01T08:00:00.000Z',
    supplementaryConfiguration: {},
  };
}

export interface TemplateSpec {
  launchTemplateId?: string;
  launchTemplateName?: string;
  version?: string;
}

export interface GroupItemShape {
  name?: string;
  launchTemplate?: TemplateSpec | null;
  mixedInstancesPolicy?: { launchTemplate: TemplateSpec; overrides?: (TemplateSpec | undefined)[] };
  launchConfigurationName?: string;
  tags?: Record<string, string>;
  status?: string;
  captureTime?: string;
}

export const managedNodeGroupTags = (cluster = 'prod', nodeGroup = 'ng-general'): Record<string, string> => ({
  'eks:cluster-name': cluster,
  'eks:nodegroup-name': nodeGroup,
  [`kubernetes.io/cluster/${cluster}`]: 'owned',
  [`k8s.io/cluster-autoscaler/${cluster}`]: 'owned',
});

export function anAutoScalingGroupItem(shape: GroupItemShape = {}) {
  const name = shape.name ?? 'eks-ng-general-a4c9b2f1-5d1e-8f3a-2b6c-0123456789ab';
  const launchTemplate =
    shape.launchTemplate === null || shape.mixedInstancesPolicy || shape.launchConfigurationName
      ? undefined
      : { launchTemplateId: 'lt-0abc1234def567890', launchTemplateName: 'eks-a4c9b2f1', version: '3', ...shape.launchTemplate };
  return {
    ...anItemEnvelope(
      {
        resourceType: 'AWS::AutoScaling::AutoScalingGroup',
        resourceId: name,
        arn: `arn:aws:autoscaling:${REGION}:${ACCOUNT_ID}:autoScalingGroup:6d3f1c2e-1111-4a2b-9c3d-abcdefabcdef:autoScalingGroupName/${name}`,
        ...(shape.status === undefined ? {} : { status: shape.status }),
        ...(shape.captureTime === undefined ? {} : { captureTime: shape.captureTime }),
        stateId: '1732702530789',
        availabilityZone: 'Multiple Availability Zones',
        tags: shape.tags ?? managedNodeGroupTags(),
      },
      {
        autoScalingGroupName: name,
        autoScalingGroupARN: `arn:aws:autoscaling:${REGION}:${ACCOUNT_ID}:autoScalingGroup:6d3f1c2e-1111-4a2b-9c3d-abcdefabcdef:autoScalingGroupName/${name}`,
        ...(launchTemplate ? { launchTemplate } : {}),
        ...(shape.launchConfigurationName ? { launchConfigurationName: shape.launchConfigurationName } : {}),
        ...(shape.mixedInstancesPolicy
          ? {
              mixedInstancesPolicy: {
                launchTemplate: {
                  launchTemplateSpecification: shape.mixedInstancesPolicy.launchTemplate,
                  overrides: (shape.mixedInstancesPolicy.overrides ?? [undefined]).map((spec, i) => ({
                    instanceType: ['m7g.large', 'm6g.large', 'c7g.large'][i % 3],
                    ...(spec ? { launchTemplateSpecification: spec } : {}),
                  })),
                },
                instancesDistribution: { onDemandAllocationStrategy: 'prioritized', onDemandBaseCapacity: 0 },
              },
            }
          : {}),
        minSize: 1,
        maxSize: 10,
        desiredCapacity: 2,
        defaultCooldown: 300,
        availabilityZones: [`${REGION}a`, `${REGION}b`],
        healthCheckType: 'EC2',
        healthCheckGracePeriod: 15,
        instances: [],
        createdTime: '2026-10-01T08:00:00.000Z',
        vpczoneIdentifier: 'subnet-0aaa1111bbbb2222c,subnet-0ccc3333dddd4444e',
        terminationPolicies: ['AllocationStrategy', 'OldestLaunchTemplate', 'OldestInstance'],
        newInstancesProtectedFromScaleIn: false,
        capacityRebalance: true,
        serviceLinkedRoleARN: `arn:aws:iam::${ACCOUNT_ID}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`,
      },
    ),
    resourceName: name,
    resourceCreationTime: '2026-10-01T08:00:00.000Z',
    supplementaryConfiguration: {},
  };
}

/** A change notification carrying one of the items above, as AWS Config invokes the sources rule. */
export function aSourceChangeEvent(item: { resourceType: string }, shape: EventShape = {}) {
  return anEvent(
    {
      configurationItemDiff: null,
      configurationItem: item,
      notificationCreationTime: '2026-11-27T10:15:31.000Z',
      messageType: 'ConfigurationItemChangeNotification',
      recordVersion: '1.3',
    },
    { ...shape },
  );
}
