import type { Instance } from '@aws-sdk/client-ec2';

/**
 * The facts the judgement needs about one EC2 instance, whichever way they arrived: an AWS
 * Config configuration item (camelCase) or an EC2 DescribeInstances result (PascalCase).
 */
export interface InstanceFacts {
  readonly instanceId: string;
  /** EC2 state name: pending, running, shutting-down, terminated, stopping, stopped. */
  readonly state: string | undefined;
  readonly tags: Readonly<Record<string, string>>;
  readonly hasInstanceProfile: boolean;
  readonly metadata: MetadataOptions;
  /** EC2 managed instance operator (EKS Auto Mode nodes are operated by EKS). */
  readonly operator: { readonly managed: boolean; readonly principal: string | undefined } | undefined;
}

export interface MetadataOptions {
  /** `pending` until EC2 has applied a change, then `applied`. */
  readonly state: string | undefined;
  readonly httpTokens: string | undefined;
  readonly httpPutResponseHopLimit: number | undefined;
  readonly httpEndpoint: string | undefined;
}

/** The `configuration` of an AWS::EC2::Instance configuration item, as far as we read it. */
export interface ConfigurationItemInstance {
  instanceId?: string;
  state?: { name?: string };
  iamInstanceProfile?: { arn?: string; id?: string } | null;
  metadataOptions?: {
    state?: string;
    httpTokens?: string;
    httpPutResponseHopLimit?: number;
    httpEndpoint?: string;
  } | null;
  operator?: { managed?: boolean; principal?: string } | null;
}

export function factsFromConfigurationItem(
  resourceId: string,
  configuration: ConfigurationItemInstance | undefined,
  tags: Readonly<Record<string, string>> | undefined,
): InstanceFacts {
  const options = configuration?.metadataOptions ?? undefined;
  const profile = configuration?.iamInstanceProfile ?? undefined;
  const operator = configuration?.operator ?? undefined;
  return {
    instanceId: configuration?.instanceId ?? resourceId,
    state: configuration?.state?.name,
    tags: tags ?? {},
    hasInstanceProfile: Boolean(profile?.arn ?? profile?.id),
    metadata: {
      state: options?.state,
      httpTokens: options?.httpTokens,
      httpPutResponseHopLimit: options?.httpPutResponseHopLimit,
      httpEndpoint: options?.httpEndpoint,
    },
    operator: operator ? { managed: operator.managed === true, principal: operator.principal } : undefined,
  };
}

export function factsFromEc2Instance(instance: Instance): InstanceFacts {
  const tags: Record<string, string> = {};
  for (const tag of instance.Tags ?? []) {
    if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
  }
  const options = instance.MetadataOptions;
  return {
    instanceId: instance.InstanceId ?? '',
    state: instance.State?.Name,
    tags,
    hasInstanceProfile: Boolean(instance.IamInstanceProfile?.Arn ?? instance.IamInstanceProfile?.Id),
    metadata: {
      state: options?.State,
      httpTokens: options?.HttpTokens,
      httpPutResponseHopLimit: options?.HttpPutResponseHopLimit,
      httpEndpoint: options?.HttpEndpoint,
    },
    operator: instance.Operator
      ? { managed: instance.Operator.Managed === true, principal: instance.Operator.Principal }
      : undefined,
  };
}
