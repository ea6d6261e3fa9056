import { AwsError } from './errors.ts';

interface Sample {
  at: Date;
  value: number;
}

type JsonObject = Record<string, unknown>;

const STATISTICS = ['Sum', 'SampleCount', 'Average', 'Minimum', 'Maximum'] as const;
type Statistic = (typeof STATISTICS)[number];
const MAX_DATAPOINTS = 1440;

/** EC2 instance metrics (`AWS/EC2`, dimension `InstanceId`), seeded per instance. */
export class CloudWatchService {
  readonly #samples = new Map<string, Sample[]>();

  /** Replaces the metric's samples for the instance with one sample (default: a minute ago). */
  setInstanceMetric(instanceId: string, metricName: string, value: number, at: Date = new Date(Date.now() - 60_000)): void {
    this.#samples.set(sampleKey(metricName, instanceId), [{ at, value }]);
  }

  addInstanceMetric(instanceId: string, metricName: string, value: number, at: Date = new Date(Date.now() - 60_000)): void {
    const key = sampleKey(metricName, instanceId);
    const samples = this.#samples.get(key) ?? [];
    samples.push({ at, value });
    this.#samples.set(key, samples);
  }

  readonly operations: Record<string, (input: JsonObject) => JsonObject> = {
    GetMetricStatistics: (input) => this.#getMetricStatistics(input),
    GetMetricData: (input) => this.#getMetricData(input),
  };

  #getMetricStatistics(input: JsonObject): JsonObject {
    const metricName = requireString(input, 'MetricName');
    const namespace = requireString(input, 'Namespace');
    const start = requireTime(input, 'StartTime');
    const end = requireTime(input, 'EndTime');
    const period = requirePeriod(input['Period']);
    const statistics = input['Statistics'];
    if (!Array.isArray(statistics) || statistics.length === 0) {
      throw new AwsError('MissingParameter', 'Must specify either Statistics or ExtendedStatistics', 400);
    }
    for (const s of statistics) {
      if (!STATISTICS.includes(s as Statistic)) {
        throw invalidValue(`The parameter Statistics.member.1 must be a value in the set [ ${STATISTICS.join(', ')} ].`);
      }
    }
    checkRange(start, end, period);
    const instanceId = instanceDimension(input['Dimensions']);
    const buckets = this.#buckets(namespace, metricName, instanceId, start, end, period);
    return {
      Label: metricName,
      Datapoints: buckets.map(({ at, values }) => {
        const point: JsonObject = { Timestamp: at.getTime() / 1000, Unit: 'Count' };
        for (const s of statistics as Statistic[]) point[s] = aggregate(s, values);
        return point;
      }),
    };
  }

  #getMetricData(input: JsonObject): JsonObject {
    const start = requireTime(input, 'StartTime');
    const end = requireTime(input, 'EndTime');
    const queries = input['MetricDataQueries'];
    if (!Array.isArray(queries) || queries.length === 0) {
      throw invalidValue('The parameter MetricDataQueries must contain at least one query.');
    }
    const descending = input['ScanBy'] !== 'TimestampAscending';
    const results = queries.map((raw: unknown) => {
      const query = (raw ?? {}) as JsonObject;
      const id = requireString(query, 'Id');
      const stat = (query['MetricStat'] ?? {}) as JsonObject;
      const metric = (stat['Metric'] ?? {}) as JsonObject;
      const statistic = stat['Stat'];
      if (!STATISTICS.includes(statistic as Statistic)) {
        throw invalidValue(`The value ${String(statistic)} for parameter MetricDataQueries.member.1.MetricStat.Stat is not supported.`);
      }
      const period = requirePeriod(stat['Period']);
      checkRange(start, end, period);
      const metricName = requireString(metric, 'MetricName');
      const buckets = this.#buckets(requireString(metric, 'Namespace'), metricName, instanceDimension(metric['Dimensions']), start, end, period);
      if (descending) buckets.reverse();
      return {
        Id: id,
        Label: typeof query['Label'] === 'string' ? query['Label'] : metricName,
        Timestamps: buckets.map((b) => b.at.getTime() / 1000),
        Values: buckets.map((b) => aggregate(statistic as Statistic, b.values)),
        StatusCode: 'Complete',
      };
    });
    return { MetricDataResults: results, Messages: [] };
  }

  #buckets(namespace: string, metricName: string, instanceId: string | undefined, start: Date, end: Date, period: number): Array<{ at: Date; values: number[] }> {
    if (namespace !== 'AWS/EC2' || instanceId === undefined) return [];
    const samples = this.#samples.get(sampleKey(metricName, instanceId)) ?? [];
    const byBucket = new Map<number, number[]>();
    const startMs = start.getTime();
    const periodMs = period * 1000;
    for (const sample of samples) {
      const t = sample.at.getTime();
      if (t < startMs || t >= end.getTime()) continue;
      const bucket = startMs + Math.floor((t - startMs) / periodMs) * periodMs;
      const values = byBucket.get(bucket) ?? [];
      values.push(sample.value);
      byBucket.set(bucket, values);
    }
    return [...byBucket.entries()].sort(([a], [b]) => a - b).map(([at, values]) => ({ at: new Date(at), values }));
  }
}

function aggregate(statistic: Statistic, values: number[]): number {
  switch (statistic) {
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'SampleCount':
      return values.length;
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'Minimum':
      return Math.min(...values);
    case 'Maximum':
      return Math.max(...values);
  }
}

function instanceDimension(dimensions: unknown): string | undefined {
  if (!Array.isArray(dimensions)) return undefined;
  const match = dimensions.find((d: unknown) => (d as JsonObject | null)?.['Name'] === 'InstanceId') as JsonObject | undefined;
  return typeof match?.['Value'] === 'string' ? match['Value'] : undefined;
}

function sampleKey(metricName: string, instanceId: string): string {
  return `${metricName}\u0000${instanceId}`;
}

function requireString(input: JsonObject, name: string): string {
  const value = input[name];
  if (typeof value !== 'string' || value === '') {
    throw new AwsError('MissingParameter', `The parameter ${name} is required.`, 400);
  }
  return value;
}

function requireTime(input: JsonObject, name: string): Date {
  const value = input[name];
  const date = typeof value === 'number' ? new Date(value * 1000) : typeof value === 'string' ? new Date(value) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) {
    throw new AwsError('MissingParameter', `The parameter ${name} is required.`, 400);
  }
  return date;
}

function requirePeriod(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalidValue('The parameter Period must be a positive integer.');
  }
  if (value >= 60 ? value % 60 !== 0 : ![1, 5, 10, 20, 30].includes(value)) {
    throw invalidValue('The parameter Period must be 1, 5, 10, 20, 30, 60, or any multiple of 60.');
  }
  return value;
}

function checkRange(start: Date, end: Date, period: number): void {
  if (start.getTime() >= end.getTime()) throw invalidValue('The parameter StartTime must be less than the parameter EndTime.');
  if ((end.getTime() - start.getTime()) / (period * 1000) > MAX_DATAPOINTS) {
    throw new AwsError(
      'InvalidParameterCombination',
      `You have requested up to ${Math.ceil((end.getTime() - start.getTime()) / (period * 1000))} datapoints, which exceeds the limit of ${MAX_DATAPOINTS}.`,
    );
  }
}

function invalidValue(message: string): AwsError {
  return new AwsError('InvalidParameterValue', message);
}
