import { DescribeInstancesCommand, ModifyInstanceMetadataOptionsCommand } from '@aws-sdk/client-ec2';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  aComplianceChangeEvent,
  anEksNode,
  anSqsEvent,
  aStateChangeEvent,
  awsError,
  DEAD_LETTER_QUEUE_URL,
  fakeEc2,
  FUNCTION_ARN,
  QUEUE_URL,
  RULE_NAME,
  TOPIC_ARN,
} from './builders.ts';
import { ec2Mock, onlyPublished, resetMocks, snsMock, sqsMock } from './harness.ts';

function aContext(functionArn = FUNCTION_ARN): Context {
  return {
    functionName: 'eks-imds-guard-remediate',
    functionVersion: '$LATEST',
    invokedFunctionArn: functionArn,
    memoryLimitInMB: '256',
    awsRequestId: '5f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f',
    logGroupName: '/aws/lambda/eks-imds-guard-remediate',
    logStreamName: '2026/11/20/[$LATEST]0123456789abcdef',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 90_000,
    done() {},
    fail() {},
    succeed() {},
  };
}

/**
 * A fresh module graph: a fresh execution environment (the handler caches its configuration and
 * its SNS client). Error classes then come from that graph too: compare by name.
 */
async function loadHandler() {
  vi.resetModules();
  return (await import('../../functions/remediate-imds/handler.ts')).handler;
}

/** What went to the dead-letter queue: the original body and the reason attributes. */
function deadLettered() {
  return sqsMock.commandCalls(SendMessageCommand).map((call) => {
    const input = call.args[0].input;
    const attribute = (name: string) => input.MessageAttributes?.[name]?.StringValue;
    return { queueUrl: input.QueueUrl, body: input.MessageBody, reason: attribute('reason'), problems: attribute('problems'), sourceMessageId: attribute('sourceMessageId') };
  });
}

const OTHER_INSTANCE = 'i-0fedcba9876543210';

beforeEach(() => {
  resetMocks();
  vi.stubEnv('CONFIG_RULE_NAME', RULE_NAME);
  vi.stubEnv('TOPIC_ARN', TOPIC_ARN);
  vi.stubEnv('REMEDIATION_MODE', 'enforce');
  vi.stubEnv('IMDSV1_GUARD', 'false');
  vi.stubEnv('REMEDIATION_QUEUE_URL', QUEUE_URL);
  vi.stubEnv('DEAD_LETTER_QUEUE_URL', DEAD_LETTER_QUEUE_URL);
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('handler', () => {
  it('remediates a queued event with the module-scope clients, logs one INFO line and counts the outcome', async () => {
    const handler = await loadHandler();
    const { logger: moduleLogger } = await import('../../functions/shared/telemetry.ts');
    const info = vi.spyOn(moduleLogger, 'info');
    const dimensions = vi.spyOn(Metrics.prototype, 'addDimension');
    fakeEc2(ec2Mock, anEksNode());

    const response = await handler(anSqsEvent([aComplianceChangeEvent()]), aContext());

    expect(response).toEqual({ batchItemFailures: [] });
    expect(ec2Mock).toHaveReceivedCommandTimes(ModifyInstanceMetadataOptionsCommand, 1);
    expect(onlyPublished().input.TopicArn).toBe(TOPIC_ARN);
    expect(info).toHaveBeenCalledTimes(1);
    expect(info).toHaveBeenCalledWith('remediation finished', expect.objectContaining({ outcome: 'remediated', mode: 'enforce', modified: true }));
    expect(dimensions).toHaveBeenCalledWith('Outcome', 'remediated');
    expect(deadLettered()).toEqual([]);
  });

  it('counts the seconds from a launch event to the verified fix, by Path', async () => {
    const handler = await loadHandler();
    const dimensions = vi.spyOn(Metrics.prototype, 'addDimension');
    const metric = vi.spyOn(Metrics.prototype, 'addMetric');
    fakeEc2(ec2Mock, anEksNode());
    const launchedAt = new Date(Date.now() - 3_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

    expect(await handler(anSqsEvent([aStateChangeEvent({ time: launchedAt })]), aContext())).toEqual({ batchItemFailures: [] });

    expect(ec2Mock).toHaveReceivedCommandTimes(ModifyInstanceMetadataOptionsCommand, 1);
    expect(dimensions).toHaveBeenCalledWith('Path', 'state-change');
    const seconds = metric.mock.calls.filter(([name]) => name === 'SecondsToCompliant');
    expect(seconds).toHaveLength(1);
    expect(seconds[0]?.[1]).toBe('Seconds');
    // At least the 3 s since the event, plus the first verification wait.
    expect(seconds[0]?.[2]).toBeGreaterThanOrEqual(3);
    expect(seconds[0]?.[2]).toBeLessThan(60);
  });

  it('takes the account from the function ARN: an event for another account goes to the dead-letter queue, nothing touched', async () => {
    const handler = await loadHandler();
    const otherAccount = FUNCTION_ARN.replace('111122223333', '999988887777');
    const event = anSqsEvent([aComplianceChangeEvent()]);

    expect(await handler(event, aContext(otherAccount))).toEqual({ batchItemFailures: [] });

    expect(ec2Mock.calls()).toHaveLength(0);
    expect(snsMock.calls()).toHaveLength(0);
    expect(deadLettered()).toEqual([
      {
        queueUrl: DEAD_LETTER_QUEUE_URL,
        body: event.Records[0]!.body,
        reason: 'InvalidEventError',
        problems: 'account 111122223333 is not this function\'s account 999988887777',
        sourceMessageId: event.Records[0]!.messageId,
      },
    ]);
  });

  it('takes the region from AWS_REGION: an event for another region is dead-lettered with that reason', async () => {
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    const handler = await loadHandler();
    expect(await handler(anSqsEvent([aComplianceChangeEvent()]), aContext())).toEqual({ batchItemFailures: [] });
    expect(deadLettered()[0]?.problems).toBe("region us-east-1 is not this function's region eu-west-1");
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  it('dead-letters a body that is not JSON, keeping the body as it was', async () => {
    const handler = await loadHandler();
    expect(await handler(anSqsEvent(['{"detail-type": "Config Rules']), aContext())).toEqual({ batchItemFailures: [] });
    expect(deadLettered()).toEqual([
      expect.objectContaining({ body: '{"detail-type": "Config Rules', reason: 'InvalidEventError', problems: expect.stringMatching(/^SQS message body is not JSON \(/) }),
    ]);
  });

  it('leaves a message on the queue when the dead-letter queue cannot take it (never lost), and says so', async () => {
    const handler = await loadHandler();
    const { logger: moduleLogger } = await import('../../functions/shared/telemetry.ts');
    const error = vi.spyOn(moduleLogger, 'error');
    sqsMock.on(SendMessageCommand).rejects(awsError('KMS.ThrottlingException'));
    const event = anSqsEvent([aComplianceChangeEvent({ configRuleName: 'someone-elses-rule' }), aComplianceChangeEvent({ id: 'ok-1', instanceId: OTHER_INSTANCE })]);
    fakeEc2(ec2Mock, anEksNode({ instanceId: OTHER_INSTANCE }));

    const response = await handler(event, aContext());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: event.Records[0]!.messageId }] });
    expect(error).toHaveBeenCalledWith('refused message not moved to the dead-letter queue', expect.objectContaining({ messageId: event.Records[0]!.messageId }));
  });

  it('fails every message on a configuration error, before any AWS call, without dead-lettering (a deployment fix makes them succeed)', async () => {
    vi.stubEnv('REMEDIATION_MODE', 'auto');
    const handler = await loadHandler();
    const error = await handler(anSqsEvent([aComplianceChangeEvent()]), aContext()).catch((e: unknown) => e);
    // Powertools' processor throws when the whole batch failed: SQS redelivers all of it.
    expect(error).toMatchObject({ name: 'FullBatchFailureError' });
    expect(String((error as { recordErrors?: unknown[] }).recordErrors?.[0])).toContain('REMEDIATION_MODE must be one of notify, enforce, got "auto"');
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(sqsMock.calls()).toHaveLength(0);
  });

  it('fails only the message whose error is transient; the rest of the batch is done', async () => {
    const handler = await loadHandler();
    const ec2 = fakeEc2(ec2Mock, anEksNode());
    ec2Mock.on(DescribeInstancesCommand, { InstanceIds: [OTHER_INSTANCE] }).rejects(awsError('RequestLimitExceeded'));
    const good = aComplianceChangeEvent();
    const transient = aComplianceChangeEvent({ id: 'a7e1c2d3-0000-4000-8000-00000000000t', instanceId: OTHER_INSTANCE });
    const otherRule = aComplianceChangeEvent({ id: 'a7e1c2d3-0000-4000-8000-00000000000r', configRuleName: 'someone-elses-rule' });
    const event = anSqsEvent([good, transient, otherRule, 'not json']);

    const response = await handler(event, aContext());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: event.Records[1]!.messageId }] });
    expect(ec2.modifications).toHaveLength(1);
    expect(onlyPublished().report.instanceId).toBe(ec2.current()?.InstanceId);
    expect(deadLettered().map((m) => [m.sourceMessageId, m.reason])).toEqual([
      [event.Records[2]!.messageId, 'InvalidEventError'],
      [event.Records[3]!.messageId, 'InvalidEventError'],
    ]);
  });

  it('handles the records of a batch one at a time (the modify bucket refills at 5/s)', async () => {
    const handler = await loadHandler();
    let inFlight = 0;
    let most = 0;
    ec2Mock.on(DescribeInstancesCommand).callsFake(async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      return { Reservations: [] };
    });
    const events = [1, 2, 3].map((n) => aComplianceChangeEvent({ id: `a7e1c2d3-0000-4000-8000-00000000000${n}` }));
    expect(await handler(anSqsEvent(events), aContext())).toEqual({ batchItemFailures: [] });
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeInstancesCommand, 3);
    expect(most).toBe(1);
  });

  it('after a fix whose notification failed, the redelivered message notifies once in another execution environment and modifies nothing', async () => {
    const metric = vi.spyOn(Metrics.prototype, 'addMetric');
    const ec2 = fakeEc2(ec2Mock, anEksNode());
    snsMock.on(PublishCommand).rejectsOnce(awsError('InternalErrorException')).resolves({ MessageId: 'm-2' });
    const first = anSqsEvent([aComplianceChangeEvent(), aComplianceChangeEvent({ id: 'other', configRuleName: 'x' })]);

    const failed = await (await loadHandler())(first, aContext());
    expect(failed).toEqual({ batchItemFailures: [{ itemIdentifier: first.Records[0]!.messageId }] });
    expect(metric).toHaveBeenCalledWith('NotificationsUndelivered', 'Count', 1);

    // SQS redelivers the same message after the visibility timeout, maybe to another environment.
    const redelivery = anSqsEvent([aComplianceChangeEvent()], { receiveCount: 2 });
    expect(await (await loadHandler())(redelivery, aContext())).toEqual({ batchItemFailures: [] });
    expect(ec2Mock).toHaveReceivedCommandTimes(ModifyInstanceMetadataOptionsCommand, 1);
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 2);
    expect(ec2.ledger()?.state).toBe('notified');

    // And a late duplicate (SQS is at-least-once) publishes nothing.
    const duplicate = anSqsEvent([aComplianceChangeEvent()], { receiveCount: 3 });
    expect(await (await loadHandler())(duplicate, aContext())).toEqual({ batchItemFailures: [] });
    expect(ec2Mock).toHaveReceivedCommandTimes(ModifyInstanceMetadataOptionsCommand, 1);
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 2);
  });

  it('publishes through an SNS client in the topic\'s region (a central topic elsewhere), created once', async () => {
    const central = 'arn:aws:sns:eu-central-1:444455556666:security-findings';
    vi.stubEnv('TOPIC_ARN', central);
    const handler = await loadHandler();
    // Not an EKS node: reported (published) on every delivery.
    fakeEc2(ec2Mock, anEksNode({ tags: { Name: 'bastion' } }));
    await handler(anSqsEvent([aComplianceChangeEvent()]), aContext());
    await handler(anSqsEvent([aComplianceChangeEvent({ id: 'a7e1c2d3-0000-4000-8000-000000000002' })]), aContext());
    const [a, b] = snsMock.commandCalls(PublishCommand).map((call) => call.thisValue as SNSClient);
    expect(b).toBe(a);
    expect(await a!.config.region()).toBe('eu-central-1');
    expect(await a!.config.maxAttempts()).toBe(6);
    expect(snsMock.commandCalls(PublishCommand)[0]?.args[0].input.TopicArn).toBe(central);
  });
});
