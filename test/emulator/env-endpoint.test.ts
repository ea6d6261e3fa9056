import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { managedNodeGroupNode, startEmulator, type Emulator } from '../../emulator/index.ts';

let emulator: Emulator;
const saved = { ...process.env };

beforeAll(async () => {
  emulator = await startEmulator();
  // Exactly what a Lambda under test sees: no endpoint option, only the standard variables.
  Object.assign(process.env, emulator.clientEnv());
});

afterAll(async () => {
  for (const key of Object.keys(emulator.clientEnv())) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
  await emulator.close();
});

it('reaches the emulator through AWS_ENDPOINT_URL alone', async () => {
  const id = emulator.addInstance(managedNodeGroupNode());
  const client = new EC2Client({});
  try {
    const out = await client.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    expect(out.Reservations?.[0]?.Instances?.[0]?.InstanceId).toBe(id);
    expect(emulator.calls.get('ec2:DescribeInstances')).toBe(1);
  } finally {
    client.destroy();
  }
});
