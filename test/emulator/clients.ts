import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Emulator } from '../../emulator/index.ts';

export interface Clients {
  ec2: EC2Client;
  config: ConfigServiceClient;
  sns: SNSClient;
  cloudwatch: CloudWatchClient;
  autoscaling: AutoScalingClient;
  sqs: SQSClient;
}

export const fakeCredentials = { accessKeyId: 'AKIDEMULATORTEST', secretAccessKey: 'emulator-test-secret' };

export function clientsFor(emulator: Emulator, extra: { maxAttempts?: number } = {}): Clients {
  const config = { endpoint: emulator.url, region: 'us-east-1', credentials: fakeCredentials, ...extra };
  return {
    ec2: new EC2Client(config),
    config: new ConfigServiceClient(config),
    sns: new SNSClient(config),
    cloudwatch: new CloudWatchClient(config),
    autoscaling: new AutoScalingClient(config),
    sqs: new SQSClient(config),
  };
}

export function destroy(clients: Clients): void {
  for (const client of Object.values(clients)) client.destroy();
}

/** The rejection of a promise, so tests can assert on `name`, `$fault` and `$metadata`. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & { $fault?: string; $metadata?: { httpStatusCode?: number; attempts?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { $fault?: string; $metadata?: { httpStatusCode?: number; attempts?: number } };
  }
  throw new Error('expected the request to fail');
}
