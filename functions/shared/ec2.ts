import { DescribeInstancesCommand, type EC2Client, type Instance } from '@aws-sdk/client-ec2';

/** The resource type both functions judge. */
export const EC2_INSTANCE = 'AWS::EC2::Instance';

/**
 * One instance as EC2 describes it now. EKS Auto Mode nodes are EC2 managed instances, hidden
 * from DescribeInstances unless asked for. `InvalidInstanceID.NotFound` is left to the caller.
 */
export async function describeOneInstance(ec2: Pick<EC2Client, 'send'>, instanceId: string): Promise<Instance | undefined> {
  const response = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId], IncludeManagedResources: true }));
  return (response.Reservations ?? []).flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
}

export { sleep } from './sleep.ts';
