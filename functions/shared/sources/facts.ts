import type {
  AutoScalingGroup,
  LaunchConfiguration,
  LaunchTemplateSpecification as GroupTemplateSpec,
} from '@aws-sdk/client-auto-scaling';
import type { Image, InstanceMetadataDefaultsResponse, LaunchTemplate, LaunchTemplateVersion } from '@aws-sdk/client-ec2';
import type { AutoScalingGroupFacts, LaunchConfigurationFacts, LaunchTemplateRef } from './auto-scaling-group.ts';
import type { AccountDefaults, AmiFacts } from './launch-metadata.ts';
import type { LaunchTemplateFacts, LaunchTemplateVersionFacts } from './launch-template.ts';

/**
 * The facts the source judgements need, whichever way they arrived: an AWS Config configuration
 * item (AWS::AutoScaling::AutoScalingGroup is camelCase; AWS::EC2::LaunchTemplate is PascalCase,
 * see awslabs/aws-config-resource-schema) or an SDK response.
 */

type Tags = Record<string, string>;

function tagMap(tags: readonly { Key?: string | undefined; Value?: string | undefined }[] | undefined): Tags {
  const out: Tags = {};
  for (const tag of tags ?? []) if (tag.Key !== undefined) out[tag.Key] = tag.Value ?? '';
  return out;
}

interface ItemTemplateSpec {
  launchTemplateId?: string;
  launchTemplateName?: string;
  version?: string;
}

/** The `configuration` of an AWS::AutoScaling::AutoScalingGroup item, as far as we read it. */
export interface GroupItemConfiguration {
  autoScalingGroupName?: string;
  launchConfigurationName?: string | null;
  launchTemplate?: ItemTemplateSpec | null;
  mixedInstancesPolicy?: {
    launchTemplate?: { launchTemplateSpecification?: ItemTemplateSpec | null; overrides?: { launchTemplateSpecification?: ItemTemplateSpec | null }[] | null } | null;
  } | null;
}

export function groupFromConfigurationItem(resourceId: string, configuration: GroupItemConfiguration | undefined, tags: Tags | undefined): AutoScalingGroupFacts {
  const mixed = configuration?.mixedInstancesPolicy?.launchTemplate ?? undefined;
  return {
    name: configuration?.autoScalingGroupName ?? resourceId,
    tags: tags ?? {},
    launchTemplates: templateRefs([
      configuration?.launchTemplate ?? undefined,
      mixed?.launchTemplateSpecification ?? undefined,
      ...(mixed?.overrides ?? []).map((o) => o.launchTemplateSpecification ?? undefined),
    ]),
    launchConfigurationName: configuration?.launchConfigurationName ?? undefined,
  };
}

export function groupFromSdk(group: AutoScalingGroup): AutoScalingGroupFacts {
  const mixed = group.MixedInstancesPolicy?.LaunchTemplate;
  const camel = (spec: GroupTemplateSpec | undefined): ItemTemplateSpec | undefined =>
    spec && { launchTemplateId: spec.LaunchTemplateId, launchTemplateName: spec.LaunchTemplateName, version: spec.Version };
  return {
    name: group.AutoScalingGroupName ?? '',
    tags: tagMap(group.Tags),
    launchTemplates: templateRefs([
      camel(group.LaunchTemplate),
      camel(mixed?.LaunchTemplateSpecification),
      ...(mixed?.Overrides ?? []).map((o) => camel(o.LaunchTemplateSpecification)),
    ]),
    launchConfigurationName: group.LaunchConfigurationName,
  };
}

/** Each distinct template reference once, in the order the group names them. */
function templateRefs(specs: readonly (ItemTemplateSpec | undefined)[]): LaunchTemplateRef[] {
  const refs: LaunchTemplateRef[] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    if (spec === undefined || (spec.launchTemplateId === undefined && spec.launchTemplateName === undefined)) continue;
    const key = `${spec.launchTemplateId ?? ''}/${spec.launchTemplateName ?? ''}/${spec.version ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    refs.push({ launchTemplateId: spec.launchTemplateId, launchTemplateName: spec.launchTemplateName, version: spec.version });
  }
  return refs;
}

/** The `configuration` of an AWS::EC2::LaunchTemplate item (PascalCase; version numbers as strings). */
export interface TemplateItemConfiguration {
  Id?: string;
  LaunchTemplateName?: string;
  DefaultVersionNumber?: string | number;
  LatestVersionNumber?: string | number;
}

export function templateFromConfigurationItem(
  resourceId: string,
  configuration: TemplateItemConfiguration | undefined,
  tags: Tags | undefined,
): LaunchTemplateFacts {
  return {
    launchTemplateId: configuration?.Id ?? resourceId,
    launchTemplateName: configuration?.LaunchTemplateName ?? '',
    tags: tags ?? {},
    defaultVersion: Number(configuration?.DefaultVersionNumber ?? 1),
    latestVersion: Number(configuration?.LatestVersionNumber ?? 1),
  };
}

export function templateFromSdk(template: LaunchTemplate): LaunchTemplateFacts {
  return {
    launchTemplateId: template.LaunchTemplateId ?? '',
    launchTemplateName: template.LaunchTemplateName ?? '',
    tags: tagMap(template.Tags),
    defaultVersion: template.DefaultVersionNumber ?? 1,
    latestVersion: template.LatestVersionNumber ?? 1,
  };
}

export function versionFromSdk(version: LaunchTemplateVersion): LaunchTemplateVersionFacts {
  const data = version.LaunchTemplateData;
  const options = data?.MetadataOptions;
  return {
    versionNumber: version.VersionNumber ?? 0,
    metadata: {
      httpTokens: options?.HttpTokens,
      httpPutResponseHopLimit: options?.HttpPutResponseHopLimit,
      httpEndpoint: options?.HttpEndpoint,
    },
    imageId: data?.ImageId,
    instanceTags: tagMap((data?.TagSpecifications ?? []).filter((s) => s.ResourceType === 'instance').flatMap((s) => s.Tags ?? [])),
    description: version.VersionDescription,
  };
}

export function launchConfigurationFromSdk(configuration: LaunchConfiguration): LaunchConfigurationFacts {
  const options = configuration.MetadataOptions;
  return {
    name: configuration.LaunchConfigurationName ?? '',
    metadata: {
      httpTokens: options?.HttpTokens,
      httpPutResponseHopLimit: options?.HttpPutResponseHopLimit,
      httpEndpoint: options?.HttpEndpoint,
    },
    imageId: configuration.ImageId,
  };
}

/** GetInstanceMetadataDefaults leaves out what has no preference; -1 also means none. */
export function accountDefaultsFromSdk(defaults: InstanceMetadataDefaultsResponse | undefined): AccountDefaults {
  const hop = defaults?.HttpPutResponseHopLimit;
  return {
    httpTokens: defaults?.HttpTokens,
    httpPutResponseHopLimit: hop === undefined || hop < 1 ? undefined : hop,
    httpEndpoint: defaults?.HttpEndpoint,
    httpTokensEnforced: defaults?.HttpTokensEnforced,
    managedBy: defaults?.ManagedBy,
    managedExceptionMessage: defaults?.ManagedExceptionMessage,
  };
}

export function amiFromSdk(image: Image): AmiFacts {
  return { imageId: image.ImageId ?? '', imdsSupport: image.ImdsSupport };
}
