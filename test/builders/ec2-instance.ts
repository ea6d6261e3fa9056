import type { Instance, InstanceStateName } from '@aws-sdk/client-ec2';
import { anInstanceConfiguration, managedNodeTags, type InstanceShape } from './config-item.ts';

/** The same instance as DescribeInstances returns it (PascalCase, tags as a list). */
export function anEc2Instance(shape: InstanceShape = {}): Instance {
  const c = anInstanceConfiguration(shape);
  const options = c.metadataOptions;
  return {
    InstanceId: c.instanceId,
    InstanceType: 'm7g.large',
    State: { Code: c.state.code, Name: c.state.name as InstanceStateName },
    IamInstanceProfile: c.iamInstanceProfile ? { Arn: c.iamInstanceProfile.arn, Id: c.iamInstanceProfile.id } : undefined,
    MetadataOptions: {
      State: options.state as 'pending' | 'applied',
      HttpTokens: options.httpTokens as 'optional' | 'required',
      HttpPutResponseHopLimit: options.httpPutResponseHopLimit,
      HttpEndpoint: options.httpEndpoint as 'enabled' | 'disabled',
      HttpProtocolIpv6: 'disabled',
      InstanceMetadataTags: 'disabled',
    },
    Tags: Object.entries(shape.tags ?? managedNodeTags()).map(([Key, Value]) => ({ Key, Value })),
    ...(shape.operator ? { Operator: { Managed: shape.operator.managed, Principal: shape.operator.principal } } : {}),
  };
}
