import { DescribeInstancesCommand, ModifyInstanceMetadataOptionsCommand } from '@aws-sdk/client-ec2';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { aComplianceChangeEvent, anEksNode, aStateChangeEvent, awsError, fakeEc2, FUNCTION_ARN, RULE_NAME, TOPIC_ARN } from './builders.ts';
import { ec2Mock, onlyPublished, resetMocks, snsMock } from './harness.ts';

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

beforeEach(() => {
  resetMocks();
  vi.stubEnv('CONFIG_RULE_NAME', RULE_NAME);
  vi.stubEnv('TOPIC_ARN', TOPIC_ARN);
  vi.stubEnv('REMEDIATION_MODE', 'enforce');
  vi.stubEnv('IMDSV1_GUARD', 'false');
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('handler', () => {
  it('remediates with the module-scope clients, logs one INFO line and counts the outcome', async () => {
    const handler = await loadHandler();
    const { logger: moduleLogger } = await import('../../functions/shared/telemetry.ts');
    const info = vi.spyOn(moduleLogger, 'info');
    const dimensions = vi.spyOn(Metrics.prototype, 'addDimension');
    fakeEc2(ec2Mock, anEksNode());

    const result = await handler(aComplianceChangeEvent(), aContext());

    expect(result).toMatchObject({ outcome: 'remediated', modified: true, published: true, verified: true });
    expect(ec2Mock).toHaveReceivedCommandTimes(ModifyInstanceMetadataOptionsCommand, 1);
    expect(onlyPublished().input.TopicArn).toBe(TOPIC_ARN);
    expect(info).toHaveBeenCalledTimes(1);
    expect(info).toHaveBeenCalledWith('remediation finished', expect.objectContaining({ outcome: 'remediated', mode: 'enforce' }));
    expect(dimensions).toHaveBeenCalledWith('Outcome', 'remediated');
  });

  it('counts the seconds from a launch event to the verified fix, by Path', async () => {
    const handler = await loadHandler();
    const dimensions = vi.spyOn(Metrics.prototype, 'addDimension');
    const metric = vi.spyOn(Metrics.prototype, 'addMetric');
    fakeEc2(ec2Mock, anEksNode());
    const launchedAt = new Date(Date.now() - 3_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

    const result = await handler(aStateChangeEvent({ time: launchedAt }), aContext());

    expect(result).toMatchObject({ path: 'state-change', outcome: 'remediated', verified: true });
    expect(dimensions).toHaveBeenCalledWith('Path', 'state-change');
    const seconds = metric.mock.calls.find(([name]) => name === 'SecondsToVerifiedFix');
    expect(seconds?.[1]).toBe('Seconds');
    // At least the 3 s since the event, plus the first verification wait.
    expect(seconds?.[2]).toBeGreaterThanOrEqual(3);
    expect(seconds?.[2]).toBe(result.secondsToVerifiedFix);
  });

  it('takes the account from the function ARN: an event for another account touches nothing', async () => {
    const handler = await loadHandler();
    const otherAccount = FUNCTION_ARN.replace('111122223333', '999988887777');
    await expect(handler(aComplianceChangeEvent(), aContext(otherAccount))).rejects.toMatchObject({ name: 'InvalidEventError' });
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(snsMock.calls()).toHaveLength(0);
  });

  it('takes the region from AWS_REGION', async () => {
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    const handler = await loadHandler();
    await expect(handler(aComplianceChangeEvent(), aContext())).rejects.toThrow("region us-east-1 is not this function's region eu-west-1");
  });

  it('fails every invocation with the configuration problems, before any AWS call', async () => {
    vi.stubEnv('REMEDIATION_MODE', 'auto');
    const handler = await loadHandler();
    const error = await handler(aComplianceChangeEvent(), aContext()).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'InvalidConfigurationError' });
    expect((error as Error).message).toContain('REMEDIATION_MODE must be one of notify, enforce, got "auto"');
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  it('rethrows transient errors for Lambda to retry', async () => {
    const handler = await loadHandler();
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('RequestLimitExceeded'));
    await expect(handler(aComplianceChangeEvent(), aContext())).rejects.toThrow('RequestLimitExceeded');
  });

  it('re-sends a lost notification on a retry in another execution environment, from the instance\'s ledger tag', async () => {
    const metric = vi.spyOn(Metrics.prototype, 'addMetric');
    const ec2 = fakeEc2(ec2Mock, anEksNode());
    snsMock.on(PublishCommand).rejectsOnce(awsError('InternalErrorException')).resolves({ MessageId: 'm-2' });

    const first = await loadHandler();
    await expect(first(aComplianceChangeEvent(), aContext())).rejects.toThrow('SNS Publish failed');
    expect(metric).toHaveBeenCalledWith('NotificationsUndelivered', 'Count', 1);

    // A fresh module graph: another execution environment, with nothing in memory.
    const elsewhere = await loadHandler();
    const retry = await elsewhere(aComplianceChangeEvent(), aContext());
    expect(retry).toMatchObject({ outcome: 'remediated', redelivered: true, modified: false, published: true });
    expect(ec2Mock).toHaveReceivedCommandTimes(ModifyInstanceMetadataOptionsCommand, 1);
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 2);
    expect(ec2.ledger()?.state).toBe('notified');

    const duplicate = await (await loadHandler())(aComplianceChangeEvent(), aContext());
    expect(duplicate).toMatchObject({ outcome: 'skipped', reason: 'duplicate', published: false });
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 2);
  });

  it('publishes through an SNS client in the topic\'s region (a central topic elsewhere), created once', async () => {
    const central = 'arn:aws:sns:eu-central-1:444455556666:security-findings';
    vi.stubEnv('TOPIC_ARN', central);
    const handler = await loadHandler();
    // Not an EKS node: reported (published) on every delivery.
    fakeEc2(ec2Mock, anEksNode({ tags: { Name: 'bastion' } }));
    await handler(aComplianceChangeEvent(), aContext());
    await handler(aComplianceChangeEvent({ id: 'a7e1c2d3-0000-4000-8000-000000000002' }), aContext());
    const [a, b] = snsMock.commandCalls(PublishCommand).map((call) => call.thisValue as SNSClient);
    expect(b).toBe(a);
    expect(await a!.config.region()).toBe('eu-central-1');
    expect(await a!.config.maxAttempts()).toBe(6);
    expect(snsMock.commandCalls(PublishCommand)[0]?.args[0].input.TopicArn).toBe(central);
  });
});
