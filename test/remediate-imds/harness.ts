import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient, type PublishCommandInput } from '@aws-sdk/client-sns';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import type { RemediationConfig } from '../../functions/remediate-imds/config.ts';
import { JSON_BLOCK_MARKER, type RemediationReport } from '../../functions/remediate-imds/notification.ts';
import type { RemediatorDeps } from '../../functions/remediate-imds/remediator.ts';
import type { DebugLogger } from '../../functions/shared/clients.ts';
import { ACCOUNT, aConfig, REGION } from './builders.ts';

export const ec2Mock = mockClient(EC2Client);
export const cloudwatchMock = mockClient(CloudWatchClient);
export const snsMock = mockClient(SNSClient);
export const sqsMock = mockClient(SQSClient);
export const eventsMock = mockClient(EventBridgeClient);

export const START = Date.parse('2026-11-20T09:15:10Z');

export function resetMocks(): void {
  ec2Mock.reset();
  cloudwatchMock.reset();
  snsMock.reset();
  sqsMock.reset();
  eventsMock.reset();
  eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '6f0c2f4e-0000-4000-8000-000000000001' }] });
  cloudwatchMock.on(GetMetricStatisticsCommand).resolves({ Label: 'MetadataNoToken', Datapoints: [] });
  snsMock.on(PublishCommand).resolves({ MessageId: 'b1c2d3e4-0000-4000-8000-000000000001' });
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'd1e2f3a4-0000-4000-8000-000000000001' });
}

export const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface Harness {
  readonly deps: RemediatorDeps;
  /** Every wait the verification asked for, in ms. */
  readonly sleeps: number[];
  elapsed(): number;
}

/**
 * Remediator dependencies over the mocked clients, with a fake clock that sleeping advances.
 * Each harness is a fresh execution environment: nothing carries over between two of them but
 * what AWS (the mocks) holds.
 */
export function aHarness(options: { config?: RemediationConfig; remainingMs?: number; logger?: DebugLogger } = {}): Harness {
  let now = START;
  const sleeps: number[] = [];
  const remaining = options.remainingMs ?? 120_000;
  const deps: RemediatorDeps = {
    ec2: new EC2Client({ region: REGION }),
    cloudwatch: new CloudWatchClient({ region: REGION }),
    sns: new SNSClient({ region: REGION }),
    sqs: new SQSClient({ region: REGION }),
    events: new EventBridgeClient({ region: REGION }),
    config: options.config ?? aConfig({ REMEDIATION_MODE: 'enforce' }),
    accountId: ACCOUNT,
    logger: options.logger ?? silentLogger,
    remainingTimeMs: () => remaining - (now - START),
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
  return { deps, sleeps, elapsed: () => now - START };
}

export interface Published {
  readonly input: PublishCommandInput;
  readonly subject: string;
  readonly message: string;
  readonly attributes: Record<string, string | undefined>;
  readonly report: RemediationReport;
}

export function publishedMessages(): Published[] {
  return snsMock.commandCalls(PublishCommand).map((call) => {
    const input = call.args[0].input;
    const message = input.Message ?? '';
    const attributes: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(input.MessageAttributes ?? {})) attributes[name] = value.StringValue;
    return { input, subject: input.Subject ?? '', message, attributes, report: jsonBlock(message) };
  });
}

export function onlyPublished(): Published {
  const all = publishedMessages();
  if (all.length !== 1) throw new Error(`expected one published notification, got ${all.length}`);
  return all[0] as Published;
}

/** The machine-readable part of a message: everything after the marker line (absent values are null). */
export function jsonBlock(message: string): RemediationReport {
  const at = message.indexOf(`\n${JSON_BLOCK_MARKER}\n`);
  if (at < 0) throw new Error('no JSON block in the message');
  return JSON.parse(message.slice(at + JSON_BLOCK_MARKER.length + 2)) as RemediationReport;
}
