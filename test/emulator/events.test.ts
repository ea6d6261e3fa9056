import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../emulator/index.ts';

let emulator: Emulator;
let events: EventBridgeClient;

beforeAll(async () => {
  emulator = await startEmulator({ accountId: '444455556666', region: 'eu-west-1' });
  events = new EventBridgeClient({
    endpoint: emulator.url,
    region: emulator.region,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
  });
});

afterAll(async () => {
  events.destroy();
  await emulator.close();
});

describe('EventBridge PutEvents', () => {
  it('records each entry with the account and region EventBridge sets, on the default bus unless named', async () => {
    const out = await events.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'eks-imds-guard', DetailType: 'IMDS Remediation Report', Detail: '{"instanceId":"i-0abc"}' },
          { Source: 'eks-imds-guard', DetailType: 'IMDS Remediation Report', Detail: '{"instanceId":"i-0def"}', EventBusName: 'central' },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(0);
    expect(out.Entries?.every((e) => typeof e.EventId === 'string')).toBe(true);
    expect(emulator.putEvents('eks-imds-guard')).toMatchObject([
      { eventBusName: 'default', account: '444455556666', region: 'eu-west-1', detail: { instanceId: 'i-0abc' } },
      { eventBusName: 'central', account: '444455556666', detail: { instanceId: 'i-0def' } },
    ]);
  });

  it('fails an entry, not the request, for a malformed detail or a reserved source', async () => {
    const out = await events.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'eks-imds-guard', DetailType: 'x', Detail: 'not json' },
          { Source: 'aws.config', DetailType: 'x', Detail: '{}' },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(2);
    expect(out.Entries?.map((e) => e.ErrorCode)).toEqual(['InvalidArgument', 'InvalidArgument']);
  });
});
