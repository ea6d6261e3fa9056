import { describe, expect, it } from 'vitest';
import { accountIdFromFunctionArn, loadRemediationConfig } from '../../functions/remediate-imds/config.ts';
import { LEDGER_TAG_KEY } from '../../functions/remediate-imds/ledger.ts';
import { InvalidConfigurationError } from '../../functions/shared/errors.ts';
import { DEAD_LETTER_QUEUE_URL, QUEUE_URL, REGION, RULE_NAME, TOPIC_ARN } from './builders.ts';

const required = { CONFIG_RULE_NAME: RULE_NAME, TOPIC_ARN, AWS_REGION: REGION, REMEDIATION_QUEUE_URL: QUEUE_URL, DEAD_LETTER_QUEUE_URL };

function problemsOf(env: Record<string, string | undefined>): readonly string[] {
  try {
    loadRemediationConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigurationError);
    return (error as InvalidConfigurationError).problems;
  }
  throw new Error('expected InvalidConfigurationError');
}

describe('loadRemediationConfig', () => {
  it('applies the defaults: notify, guard on, 24 h, the rule defaults', () => {
    expect(loadRemediationConfig(required)).toEqual({
      configRuleName: RULE_NAME,
      topicArn: TOPIC_ARN,
      topicRegion: REGION,
      fifoTopic: false,
      mode: 'notify',
      imdsv1Guard: true,
      imdsv1LookbackHours: 24,
      ruleParameters: expect.objectContaining({ minHopLimit: 2, maxHopLimit: undefined, requireHttpEndpoint: true }),
      region: REGION,
      remediationQueueUrl: QUEUE_URL,
      deadLetterQueueUrl: DEAD_LETTER_QUEUE_URL,
    });
  });

  it('treats empty values as unset (CloudFormation passes "" for a blank parameter)', () => {
    const config = loadRemediationConfig({ ...required, REMEDIATION_MODE: '', IMDSV1_GUARD: ' ', IMDSV1_LOOKBACK_HOURS: '', RULE_PARAMETERS: '' });
    expect(config).toMatchObject({ mode: 'notify', imdsv1Guard: true, imdsv1LookbackHours: 24 });
  });

  it('reads every variable', () => {
    const config = loadRemediationConfig({
      ...required,
      TOPIC_ARN: `${TOPIC_ARN}.fifo`,
      REMEDIATION_MODE: 'enforce',
      IMDSV1_GUARD: 'false',
      IMDSV1_LOOKBACK_HOURS: '360',
      RULE_PARAMETERS: JSON.stringify({ MinHopLimit: '2', MaxHopLimit: '3', ClusterNames: 'prod,staging' }),
    });
    expect(config).toMatchObject({
      fifoTopic: true,
      mode: 'enforce',
      imdsv1Guard: false,
      imdsv1LookbackHours: 360,
      ruleParameters: { minHopLimit: 2, maxHopLimit: 3, clusterNames: ['prod', 'staging'] },
    });
  });

  it.each([
    [{ REMEDIATION_MODE: 'fix' }, 'REMEDIATION_MODE must be one of notify, enforce, got "fix"'],
    [{ REMEDIATION_MODE: 'Enforce' }, 'REMEDIATION_MODE must be one of notify, enforce, got "Enforce"'],
    [{ IMDSV1_GUARD: 'yes' }, 'IMDSV1_GUARD must be "true" or "false", got "yes"'],
    [{ IMDSV1_LOOKBACK_HOURS: '0' }, 'IMDSV1_LOOKBACK_HOURS must be an integer from 1 to 360, got "0"'],
    [{ IMDSV1_LOOKBACK_HOURS: '361' }, 'IMDSV1_LOOKBACK_HOURS must be an integer from 1 to 360, got "361"'],
    [{ IMDSV1_LOOKBACK_HOURS: '1.5' }, 'IMDSV1_LOOKBACK_HOURS must be an integer from 1 to 360, got "1.5"'],
    [{ TOPIC_ARN: 'my-topic' }, 'TOPIC_ARN must be an SNS topic ARN'],
    [{ CONFIG_RULE_NAME: undefined }, 'CONFIG_RULE_NAME is required'],
    [{ AWS_REGION: undefined }, 'AWS_REGION is required'],
    [{ DEAD_LETTER_QUEUE_URL: undefined }, 'DEAD_LETTER_QUEUE_URL is required'],
    [{ REMEDIATION_QUEUE_URL: 'eks-imds-guard-remediation' }, 'REMEDIATION_QUEUE_URL must be an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)'],
    [{ DEAD_LETTER_QUEUE_URL: 'arn:aws:sqs:us-east-1:111122223333:failures' }, 'DEAD_LETTER_QUEUE_URL must be an SQS queue URL'],
    [{ RULE_PARAMETERS: '{"MinHopLimit":"0"}' }, 'RULE_PARAMETERS: MinHopLimit must be an integer from 1 to 64, got "0"'],
    [{ RULE_PARAMETERS: '{"MinHopLimt":"2"}' }, 'RULE_PARAMETERS: unknown parameter "MinHopLimt"'],
    [{ RULE_PARAMETERS: 'MinHopLimit=2' }, 'RULE_PARAMETERS: ruleParameters is not valid JSON'],
  ])('refuses %j naming the variable and the allowed values', (patch, problem) => {
    const problems = problemsOf({ ...required, ...patch });
    expect(problems).toEqual([expect.stringContaining(problem)]);
  });

  it('takes the SNS client\'s region from the topic ARN, not from the function\'s region', () => {
    const central = 'arn:aws:sns:eu-central-1:444455556666:security-findings';
    expect(loadRemediationConfig({ ...required, TOPIC_ARN: central })).toMatchObject({ topicArn: central, topicRegion: 'eu-central-1', region: REGION });
    expect(loadRemediationConfig({ ...required, TOPIC_ARN: 'arn:aws-cn:sns:cn-north-1:444455556666:findings.fifo' }).topicRegion).toBe('cn-north-1');
  });

  it('reports over EventBridge only when TOPIC_ARN is unset or empty (a member forwarding to a central bus)', () => {
    for (const topic of [undefined, '']) {
      expect(loadRemediationConfig({ ...required, TOPIC_ARN: topic })).toMatchObject({ topicArn: undefined, topicRegion: REGION, fifoTopic: false });
    }
  });

  it('refuses the ledger tag as the exemption tag (every changed node would become exempt)', () => {
    const problems = problemsOf({ ...required, RULE_PARAMETERS: JSON.stringify({ ExemptionTagKey: LEDGER_TAG_KEY }) });
    expect(problems).toEqual([
      'RULE_PARAMETERS: ExemptionTagKey must not be "imds-guard:remediation", the tag this function writes on every node it changes (each would become exempt)',
    ]);
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({ REMEDIATION_MODE: 'x', IMDSV1_GUARD: 'x', RULE_PARAMETERS: '[]' });
    expect(problems).toHaveLength(7);
    expect(problems.map((p) => p.split(' ')[0])).toEqual([
      'CONFIG_RULE_NAME',
      'REMEDIATION_MODE',
      'IMDSV1_GUARD',
      'REMEDIATION_QUEUE_URL',
      'DEAD_LETTER_QUEUE_URL',
      'AWS_REGION',
      'RULE_PARAMETERS:',
    ]);
  });
});

describe('accountIdFromFunctionArn', () => {
  it('takes the account from the function ARN, alias or not', () => {
    expect(accountIdFromFunctionArn('arn:aws:lambda:us-east-1:111122223333:function:remediate')).toBe('111122223333');
    expect(accountIdFromFunctionArn('arn:aws:lambda:us-east-1:111122223333:function:remediate:live')).toBe('111122223333');
  });

  it('refuses an ARN without an account', () => {
    expect(() => accountIdFromFunctionArn('remediate')).toThrow(InvalidConfigurationError);
  });
});
