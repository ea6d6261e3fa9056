import { GetMetricDataCommand, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../emulator/index.ts';
import { clientsFor, destroy, rejectionOf, type Clients } from './clients.ts';

let emulator: Emulator;
let clients: Clients;
const now = Date.parse('2026-03-01T12:00:00Z');

beforeAll(async () => {
  emulator = await startEmulator();
  clients = clientsFor(emulator, { maxAttempts: 1 });
  emulator.setImdsV1Calls('i-0v1caller', 40, new Date(now - 3 * 3600_000));
  emulator.cloudwatch.addInstanceMetric('i-0v1caller', 'MetadataNoToken', 2, new Date(now - 600_000));
  emulator.setImdsV1Calls('i-0quiet', 0, new Date(now - 600_000));
});

afterAll(async () => {
  destroy(clients);
  await emulator.close();
});

const request = (instanceId: string) =>
  new GetMetricStatisticsCommand({
    Namespace: 'AWS/EC2',
    MetricName: 'MetadataNoToken',
    Dimensions: [{ Name: 'InstanceId', Value: instanceId }],
    StartTime: new Date(now - 24 * 3600_000),
    EndTime: new Date(now),
    Period: 86_400,
    Statistics: ['Sum'],
  });

describe('CloudWatch GetMetricStatistics', () => {
  it('sums seeded IMDSv1 calls over the window', async () => {
    const out = await clients.cloudwatch.send(request('i-0v1caller'));
    expect(out.Label).toBe('MetadataNoToken');
    expect(out.Datapoints).toEqual([{ Timestamp: new Date(now - 24 * 3600_000), Sum: 42, Unit: 'Count' }]);
  });

  it('answers a zero sum when seeded with zero and no datapoints when never seeded', async () => {
    expect((await clients.cloudwatch.send(request('i-0quiet'))).Datapoints).toEqual([
      { Timestamp: new Date(now - 24 * 3600_000), Sum: 0, Unit: 'Count' },
    ]);
    expect((await clients.cloudwatch.send(request('i-0unknown'))).Datapoints).toEqual([]);
  });

  it('rejects a bad period with the query-compatible error code', async () => {
    const bad = new GetMetricStatisticsCommand({ ...request('i-0quiet').input, Period: 61 });
    const error = await rejectionOf(clients.cloudwatch.send(bad));
    expect(error.name).toBe('InvalidParameterValueException');
    expect((error as unknown as { Code?: string }).Code).toBe('InvalidParameterValue');
  });

  it('serves GetMetricData with the same samples', async () => {
    const out = await clients.cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: new Date(now - 4 * 3600_000),
        EndTime: new Date(now),
        MetricDataQueries: [
          {
            Id: 'v1',
            MetricStat: {
              Metric: { Namespace: 'AWS/EC2', MetricName: 'MetadataNoToken', Dimensions: [{ Name: 'InstanceId', Value: 'i-0v1caller' }] },
              Period: 3600,
              Stat: 'Sum',
            },
          },
        ],
      }),
    );
    expect(out.MetricDataResults).toEqual([
      {
        Id: 'v1',
        Label: 'MetadataNoToken',
        StatusCode: 'Complete',
        Timestamps: [new Date(now - 3600_000), new Date(now - 3 * 3600_000)],
        Values: [2, 40],
      },
    ]);
  });
});
