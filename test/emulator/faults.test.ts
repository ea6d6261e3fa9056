import { GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { PutEvaluationsCommand } from '@aws-sdk/client-config-service';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { PublishCommand } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Faults } from '../../emulator/faults.ts';
import { plainInstance, startEmulator, type Emulator } from '../../emulator/index.ts';
import { clientsFor, destroy, rejectionOf, type Clients } from './clients.ts';

let emulator: Emulator;
let once: Clients;
let retrying: Clients;
let topicArn: string;

beforeAll(async () => {
  emulator = await startEmulator();
  once = clientsFor(emulator, { maxAttempts: 1 });
  retrying = clientsFor(emulator);
  emulator.addInstances([plainInstance(), plainInstance()]);
  topicArn = emulator.createTopic('faults');
});

afterAll(async () => {
  destroy(once);
  destroy(retrying);
  await emulator.close();
});

beforeEach(() => {
  emulator.faults.clear();
  emulator.resetCalls();
});

const cwRequest = () =>
  new GetMetricStatisticsCommand({
    Namespace: 'AWS/EC2',
    MetricName: 'MetadataNoToken',
    Dimensions: [{ Name: 'InstanceId', Value: 'i-0abc' }],
    StartTime: new Date(Date.now() - 3600_000),
    EndTime: new Date(),
    Period: 3600,
    Statistics: ['Sum'],
  });

describe('throttling', () => {
  it.each([
    ['ec2:DescribeInstances', 'RequestLimitExceeded', () => once.ec2.send(new DescribeInstancesCommand({}))],
    [
      'config:PutEvaluations',
      'ThrottlingException',
      () => once.config.send(new PutEvaluationsCommand({ ResultToken: emulator.resultTokenFor('r'), Evaluations: [] })),
    ],
    ['sns:Publish', 'Throttling', () => once.sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'm' }))],
    ['cloudwatch:GetMetricStatistics', 'Throttling', () => once.cloudwatch.send(cwRequest())],
  ])('%s throttles with %s', async (operation, name, send) => {
    emulator.faults.set(operation, { throttleNext: 1 });
    const error = await rejectionOf(send());
    expect(error.name).toBe(name);
    expect(emulator.throttled.get(operation)).toBe(1);
    expect(emulator.calls.get(operation)).toBe(0);
    await send();
    expect(emulator.calls.get(operation)).toBe(1);
    expect(emulator.requests.get(operation)).toBe(2);
  });

  it('is retried by the SDK until it succeeds', async () => {
    emulator.faults.set('ec2:DescribeInstances', { throttleNext: 2 });
    const out = await retrying.ec2.send(new DescribeInstancesCommand({}));
    expect(out.$metadata.attempts).toBe(3);
    expect(emulator.throttled.get('ec2:DescribeInstances')).toBe(2);
    expect(emulator.calls.get('ec2:DescribeInstances')).toBe(1);
  });

  it('throttleEvery throttles every n-th request', async () => {
    emulator.faults.set('sns:Publish', { throttleEvery: 3 });
    for (let i = 0; i < 6; i++) await retrying.sns.send(new PublishCommand({ TopicArn: topicArn, Message: `m${i}` }));
    expect(emulator.calls.get('sns:Publish')).toBe(6);
    expect(emulator.throttled.get('sns:Publish')).toBe(2);
  });
});

describe('token bucket', () => {
  // A clock the test moves by hand: refills are exact, nothing waits.
  function bucketed(spec: { capacity: number; refillPerSecond: number; initial?: number }) {
    let now = 1_000;
    const faults = new Faults({ now: () => now });
    faults.set('ec2:ModifyInstanceMetadataOptions', { tokenBucket: spec });
    return {
      faults,
      /** Outcomes of `n` requests at the current time. */
      take: (n: number) => Array.from({ length: n }, () => faults.nextOutcome('ec2:ModifyInstanceMetadataOptions')),
      advance: (ms: number) => {
        now += ms;
      },
    };
  }

  it('lets a full bucket through, then throttles until tokens refill', () => {
    const { take, advance } = bucketed({ capacity: 3, refillPerSecond: 5 });
    expect(take(4)).toEqual([undefined, undefined, undefined, 'throttle']);
    advance(100); // half a token
    expect(take(1)).toEqual(['throttle']);
    advance(100); // one token: the throttled request took none
    expect(take(2)).toEqual([undefined, 'throttle']);
    advance(60_000); // refills up to the capacity, not beyond
    expect(take(4)).toEqual([undefined, undefined, undefined, 'throttle']);
  });

  it('starts with `initial` tokens and refills at the given rate', () => {
    const { take, advance } = bucketed({ capacity: 100, refillPerSecond: 5, initial: 0 });
    expect(take(1)).toEqual(['throttle']);
    advance(199);
    expect(take(1)).toEqual(['throttle']);
    advance(1);
    expect(take(2)).toEqual([undefined, 'throttle']);
    advance(1_000);
    expect(take(6)).toEqual([undefined, undefined, undefined, undefined, undefined, 'throttle']);
  });

  it('takes no token for a request another fault already answered, and none from other operations', () => {
    let now = 0;
    const faults = new Faults({ now: () => now });
    faults.set('ec2:DescribeInstances', { throttleNext: 2, tokenBucket: { capacity: 1, refillPerSecond: 0 } });
    expect(faults.nextOutcome('ec2:DescribeInstances')).toBe('throttle');
    expect(faults.nextOutcome('ec2:DescribeInstances')).toBe('throttle');
    expect(faults.nextOutcome('ec2:DescribeInstances')).toBeUndefined();
    expect(faults.nextOutcome('ec2:DescribeInstances')).toBe('throttle');
    expect(faults.nextOutcome('ec2:CreateTags')).toBeUndefined();
    now += 3_600_000;
    expect(faults.nextOutcome('ec2:DescribeInstances')).toBe('throttle');
  });

  it.each([
    ['ec2:DescribeInstances', 'RequestLimitExceeded', () => once.ec2.send(new DescribeInstancesCommand({}))],
    [
      'config:PutEvaluations',
      'ThrottlingException',
      () => once.config.send(new PutEvaluationsCommand({ ResultToken: emulator.resultTokenFor('r'), Evaluations: [] })),
    ],
  ])('an empty bucket answers %s with %s, counted as throttled', async (operation, name, send) => {
    emulator.faults.set(operation, { tokenBucket: { capacity: 2, refillPerSecond: 0 } });
    await send();
    await send();
    const error = await rejectionOf(send());
    expect(error.name).toBe(name);
    expect(emulator.calls.get(operation)).toBe(2);
    expect(emulator.throttled.get(operation)).toBe(1);
  });

  it('is returned by get as a copy', () => {
    emulator.faults.set('ec2:DescribeInstances', { latencyMs: 5, tokenBucket: { capacity: 100, refillPerSecond: 20, initial: 0 } });
    const spec = emulator.faults.get('ec2:DescribeInstances');
    expect(spec).toEqual({ latencyMs: 5, tokenBucket: { capacity: 100, refillPerSecond: 20, initial: 0 } });
    spec!.tokenBucket!.capacity = 1;
    expect(emulator.faults.get('ec2:DescribeInstances')?.tokenBucket?.capacity).toBe(100);
  });

  it.each([
    [{ capacity: 0, refillPerSecond: 5 }, /capacity .* at least 1/],
    [{ capacity: 2.5, refillPerSecond: 5 }, /capacity .* whole number/],
    [{ capacity: 10, refillPerSecond: -1 }, /refillPerSecond .* at least 0/],
    [{ capacity: 10, refillPerSecond: Number.POSITIVE_INFINITY }, /refillPerSecond .* finite/],
    [{ capacity: 10, refillPerSecond: 5, initial: 11 }, /initial .* from 0 to capacity/],
    [{ capacity: 10, refillPerSecond: 5, intial: 0 }, /unknown tokenBucket option 'intial'/],
    [{ capacity: 10 }, /refillPerSecond/],
    [5, /must be an object/],
  ])('rejects the bucket %j', (tokenBucket, message) => {
    expect(() => emulator.faults.set('ec2:DescribeInstances', { tokenBucket } as never)).toThrow(message);
    expect(emulator.faults.get('ec2:DescribeInstances')).toBeUndefined();
  });
});

describe('server errors', () => {
  it('500 and 503 bursts are retried by the SDK', async () => {
    emulator.faults.set('config:PutEvaluations', { serverErrorNext: 1, unavailableNext: 1 });
    const token = emulator.resultTokenFor('server-errors');
    const out = await retrying.config.send(new PutEvaluationsCommand({ ResultToken: token, Evaluations: [] }));
    expect(out.$metadata.attempts).toBe(3);
    expect(emulator.errors.get('config:PutEvaluations')).toBe(2);
  });

  it('a 500 that outlasts the retries reaches the caller as a server fault', async () => {
    emulator.faults.set('ec2:DescribeInstances', { serverErrorNext: 5 });
    const error = await rejectionOf(retrying.ec2.send(new DescribeInstancesCommand({})));
    expect(error.name).toBe('InternalError');
    expect(error.$fault).toBe('server');
    expect(error.$metadata?.attempts).toBe(3);
  });

  it('applies to every operation under the * key', async () => {
    emulator.faults.set('*', { unavailableNext: 1 });
    const error = await rejectionOf(once.cloudwatch.send(cwRequest()));
    expect(error.$metadata?.httpStatusCode).toBe(503);
    expect(emulator.errors.get('cloudwatch:GetMetricStatistics')).toBe(1);
  });
});

describe('latency and failed evaluations', () => {
  it('delays responses by latencyMs', async () => {
    emulator.faults.set('ec2:DescribeInstances', { latencyMs: 120 });
    const started = performance.now();
    await once.ec2.send(new DescribeInstancesCommand({}));
    expect(performance.now() - started).toBeGreaterThanOrEqual(115);
  });

  it('puts every n-th evaluation into FailedEvaluations and records the rest', async () => {
    emulator.faults.set('config:PutEvaluations', { failEvaluationsEvery: 2 });
    const token = emulator.resultTokenFor('failing-rule');
    const evaluations = ['i-1', 'i-2', 'i-3', 'i-4', 'i-5'].map((id) => ({
      ComplianceResourceType: 'AWS::EC2::Instance',
      ComplianceResourceId: id,
      ComplianceType: 'COMPLIANT' as const,
      OrderingTimestamp: new Date('2026-01-01T00:00:00Z'),
    }));
    const out = await once.config.send(new PutEvaluationsCommand({ ResultToken: token, Evaluations: evaluations }));
    expect(out.FailedEvaluations?.map((e) => e.ComplianceResourceId)).toEqual(['i-2', 'i-4']);
    expect(out.FailedEvaluations?.[0]?.OrderingTimestamp).toEqual(new Date('2026-01-01T00:00:00Z'));
    expect(emulator.evaluations('failing-rule').map((e) => e.resourceId)).toEqual(['i-1', 'i-3', 'i-5']);
  });

  it('refuses a whole PutEvaluations request over one annotation longer than maxAnnotationBytes, recording nothing', async () => {
    emulator.faults.set('config:PutEvaluations', { maxAnnotationBytes: 10 });
    const token = emulator.resultTokenFor('strict-rule');
    const evaluation = (id: string, annotation: string) => ({
      ComplianceResourceType: 'AWS::EC2::Instance',
      ComplianceResourceId: id,
      ComplianceType: 'COMPLIANT' as const,
      Annotation: annotation,
      OrderingTimestamp: new Date('2026-01-01T00:00:00Z'),
    });
    // Ten characters but twelve bytes: the limit is in bytes.
    const refused = once.config.send(new PutEvaluationsCommand({ ResultToken: token, Evaluations: [evaluation('i-1', 'short'), evaluation('i-2', 'ééxxxxxxxx')] }));
    await expect(refused).rejects.toMatchObject({ name: 'ValidationException' });
    expect(emulator.evaluations('strict-rule')).toEqual([]);
    await once.config.send(new PutEvaluationsCommand({ ResultToken: token, Evaluations: [evaluation('i-1', 'short'), evaluation('i-2', 'xxxxxxxxxx')] }));
    expect(emulator.evaluations('strict-rule').map((e) => e.resourceId)).toEqual(['i-1', 'i-2']);
  });

  it('rejects unknown fault options', () => {
    expect(() => emulator.faults.set('ec2:DescribeInstances', { throttleEvry: 2 } as never)).toThrow(/unknown fault option/);
  });
});

describe('unknown operations', () => {
  async function post(headers: Record<string, string>, body: string): Promise<{ status: number; text: string; headers: Headers }> {
    const response = await fetch(emulator.url, { method: 'POST', headers, body });
    return { status: response.status, text: await response.text(), headers: response.headers };
  }

  it('answers InvalidAction for query protocols and UnknownOperationException for JSON', async () => {
    const ec2 = await post(
      { 'content-type': 'application/x-www-form-urlencoded', authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ec2/aws4_request, Signature=x' },
      'Action=RunInstances&Version=2016-11-15',
    );
    expect(ec2.status).toBe(400);
    expect(ec2.text).toContain('<Code>InvalidAction</Code>');
    const config = await post({ 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'StarlingDoveService.DeleteConfigRule' }, '{}');
    expect(config.status).toBe(400);
    expect(JSON.parse(config.text)).toMatchObject({ __type: 'UnknownOperationException' });
    expect(emulator.requests.total()).toBe(0);
  });
});
