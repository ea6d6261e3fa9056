// What makes the stacks deploy into any account (issue 9): no reserved concurrency, the
// remediation fed through an SQS queue, stateful resources that say what happens to them on
// deletion, and rule parameters that fit AWS Config's InputParameters limit.
import { describe, expect, it } from 'vitest';
import { RULE_PARAMETER_NAMES } from '../../functions/shared/parameters.ts';
import { Evaluator, isObject, loadTemplate, MEMBER_ARTIFACT_PARAMETERS as MEMBER_ARTIFACTS, ORGANIZATION_REQUIRED_PARAMETERS, props, resource, resources, section, walk } from './templates.ts';
import type { JsonObject } from './templates.ts';

const TEMPLATES = { 'template.yaml': loadTemplate('sam'), 'infra/member-account.yaml': loadTemplate('member') };
const ALL_TEMPLATES = {
  ...TEMPLATES,
  'infra/organization.yaml': loadTemplate('organization'),
  'infra/artifact-bucket.yaml': loadTemplate('artifactBucket'),
};

/** AWS Config's limit on a rule's InputParameters (the JSON text). */
const INPUT_PARAMETERS_LIMIT = 1024;

/** Resource types that hold data or identity a deletion or replacement would lose. */
const STATEFUL: Readonly<Record<string, 'Retain' | 'Delete'>> = {
  // Logs are the audit trail: an account leaving the OU keeps them.
  'AWS::Logs::LogGroup': 'Retain',
  // What a key encrypted may outlive the stack.
  'AWS::KMS::Key': 'Retain',
  // Work items that mean nothing without the stack.
  'AWS::SQS::Queue': 'Delete',
};

describe.each(Object.entries(ALL_TEMPLATES))('%s', (_file, template) => {
  it('reserves no Lambda concurrency anywhere (it fails in accounts whose quota is 101 or less)', () => {
    const found: string[] = [];
    walk(template, (node, path) => {
      if (isObject(node) && 'ReservedConcurrentExecutions' in node) found.push(path);
    });
    expect(found).toEqual([]);
  });
});

describe.each(Object.entries(TEMPLATES))('%s', (_file, template) => {
  const evaluator = new Evaluator(template, { ...MEMBER_ARTIFACTS, EnableRemediation: 'true' });
  const functionTimeout = Number(props(template, 'RemediateFunction')['Timeout']);

  it.each(Object.entries(STATEFUL))('gives every %s explicit DeletionPolicy and UpdateReplacePolicy %s', (type, policy) => {
    const ofType = Object.entries(resources(template)).filter(([, r]) => r.Type === type);
    expect(ofType.length).toBeGreaterThan(0);
    for (const [id, r] of ofType) {
      const raw = r as unknown as JsonObject;
      expect({ id, DeletionPolicy: raw['DeletionPolicy'], UpdateReplacePolicy: raw['UpdateReplacePolicy'] }).toEqual({
        id,
        DeletionPolicy: policy,
        UpdateReplacePolicy: policy,
      });
    }
  });

  it('names no retained log group, so a new stack in the same account and region does not collide with a kept one', () => {
    for (const [id, r] of Object.entries(resources(template))) {
      if (r.Type === 'AWS::Logs::LogGroup') expect(r.Properties?.['LogGroupName'], id).toBeUndefined();
    }
  });

  it.each(['ComplianceChangeRule', 'InstanceLaunchRule'])('queues %s: EventBridge rule -> RemediationQueue, undeliverable events to the failure queue', (rule) => {
    const targets = evaluator.value(props(template, rule)['Targets']!) as JsonObject[];
    expect(targets).toEqual([{ Id: 'remediation-queue', Arn: '<RemediationQueue.Arn>', DeadLetterConfig: { Arn: '<RemediationFailureQueue.Arn>' } }]);
  });

  it('forwards launches: EC2 state changes to running, nothing else', () => {
    expect(props(template, 'InstanceLaunchRule')['EventPattern']).toEqual({
      source: ['aws.ec2'],
      'detail-type': ['EC2 Instance State-change Notification'],
      detail: { state: ['running'] },
    });
  });

  it('lets only the three rules (instances, launches, sources) send to the queue, over TLS', () => {
    const document = evaluator.value(props(template, 'RemediationQueuePolicy')['PolicyDocument']!) as { Statement: JsonObject[] };
    expect(document.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Condition: { ArnEquals: { 'aws:SourceArn': ['<ComplianceChangeRule.Arn>', '<SourcesComplianceChangeRule.Arn>', '<InstanceLaunchRule.Arn>'] } },
      }),
    );
    expect(document.Statement).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
  });

  it('keeps a message invisible for 6 x the function timeout, 14 days at most, and redrives it after a bounded number of receives', () => {
    const queue = props(template, 'RemediationQueue');
    expect(Number(queue['VisibilityTimeout'])).toBeGreaterThanOrEqual(6 * functionTimeout);
    expect(queue['MessageRetentionPeriod']).toBe(1_209_600);
    expect(queue['SqsManagedSseEnabled']).toBe(true);
    const redrive = evaluator.value(queue['RedrivePolicy']!) as JsonObject;
    expect(redrive['deadLetterTargetArn']).toBe('<RemediationFailureQueue.Arn>');
    expect(Number(redrive['maxReceiveCount'])).toBeGreaterThanOrEqual(2);
    expect(Number(redrive['maxReceiveCount'])).toBeLessThanOrEqual(10);
    expect(props(template, 'RemediationFailureQueue')).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 });
  });

  it('feeds the function through an event source mapping capped by RemediationMaxConcurrency, reporting failures per message', () => {
    expect(evaluator.value(props(template, 'RemediateEventSourceMapping') as JsonObject)).toEqual({
      EventSourceArn: '<RemediationQueue.Arn>',
      FunctionName: '<RemediateFunction>',
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: '2' },
    });
    // MaximumConcurrency accepts 2 to 1000; 2 keeps ModifyInstanceMetadataOptions under its 5/s refill.
    expect(section(template, 'Parameters')['RemediationMaxConcurrency']).toMatchObject({ Type: 'Number', Default: 2, MinValue: 2, MaxValue: 1000 });
  });

  it('invokes the function in no other way (no async invoke config, no EventBridge permission)', () => {
    const invokers = Object.entries(resources(template)).filter(([, r]) => r.Type === 'AWS::Lambda::EventInvokeConfig' || r.Type === 'AWS::Lambda::Permission');
    expect(invokers.map(([id, r]) => [id, r.Properties?.['Principal']])).toEqual([
      ['ConfigRulePermission', 'config.amazonaws.com'],
      ['SourcesConfigRulePermission', 'config.amazonaws.com'],
    ]);
  });

  it('tells the function both queue URLs', () => {
    const env = evaluator.value(props(template, 'RemediateFunction')['Environment']!) as { Variables: Record<string, string> };
    expect(env.Variables).toMatchObject({ REMEDIATION_QUEUE_URL: '<RemediationQueue>', DEAD_LETTER_QUEUE_URL: '<RemediationFailureQueue>' });
  });

  it('alarms on any message in the dead-letter queue', () => {
    const alarm = evaluator.value(props(template, 'RemediationFailureQueueAlarm') as JsonObject) as JsonObject;
    expect(alarm).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: '<RemediationFailureQueue.QueueName>' }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  describe('AWS Config InputParameters', () => {
    const parameters = section(template, 'Parameters');
    const definition = (name: string) => parameters[name] as JsonObject;

    /** The longest value CloudFormation lets through for a parameter (what its constraints allow). */
    const longest = (name: string): string => {
      const { AllowedValues: values, AllowedPattern: pattern, MaxLength: maxLength } = definition(name);
      if (Array.isArray(values)) return values.map(String).reduce((a, b) => (b.length > a.length ? b : a));
      const accepts = (value: string) => new RegExp(`^(?:${String(pattern)})$`, 'u').test(value);
      // A comma list of 63-character entries, a run of one character, or digits: whichever the pattern takes.
      const candidates = (n: number) => [
        Array.from({ length: n }, (_, i) => (i % 64 === 63 && i < n - 1 ? ',' : 'k')).join(''),
        'k'.repeat(n),
        `${'6'.repeat(n - 1)}4`,
      ];
      for (let n = Number(maxLength ?? INPUT_PARAMETERS_LIMIT); n > 0; n--) {
        const found = candidates(n).find(accepts);
        if (found !== undefined) return found;
      }
      throw new Error(`no value of ${name} fits its constraints`);
    };

    it('bounds the two list parameters with MaxLength', () => {
      expect(definition('NodeTagKeys')['MaxLength']).toEqual(expect.any(Number));
      expect(definition('ClusterNames')['MaxLength']).toEqual(expect.any(Number));
      expect(longest('NodeTagKeys')).toHaveLength(Number(definition('NodeTagKeys')['MaxLength']));
      expect(longest('ClusterNames')).toHaveLength(Number(definition('ClusterNames')['MaxLength']));
    });

    it(`stays within ${INPUT_PARAMETERS_LIMIT} characters with every parameter at its longest`, () => {
      const values = Object.fromEntries(RULE_PARAMETER_NAMES.map((name) => [name, longest(name)]));
      const passed = new Evaluator(template, { ...MEMBER_ARTIFACTS, ...values }).value(props(template, 'ConfigRule')['InputParameters']!);
      const text = JSON.stringify(passed);
      expect(Object.keys(passed as JsonObject).sort()).toEqual([...RULE_PARAMETER_NAMES].sort());
      expect(text.length).toBeLessThanOrEqual(INPUT_PARAMETERS_LIMIT);
      // The budget is used, not guessed: one more character in either list would not fit.
      expect(text.length).toBe(INPUT_PARAMETERS_LIMIT);
    });
  });
});

describe('infra/organization.yaml StackSet', () => {
  const organization = loadTemplate('organization');
  const preferences = props(organization, 'StackSet')['OperationPreferences'] as JsonObject;

  it('keeps deploying to other accounts when one fails, with an explicit tolerance', () => {
    expect(preferences).toMatchObject({
      ConcurrencyMode: 'SOFT_FAILURE_TOLERANCE',
      FailureTolerancePercentage: { Ref: 'FailureTolerancePercentage' },
    });
    // StackSets round the percentage down: only 100 % tolerates one failure among fewer than 10 accounts.
    expect(section(organization, 'Parameters')['FailureTolerancePercentage']).toMatchObject({ Default: 100 });
  });

  it('passes RemediationMaxConcurrency to every member stack', () => {
    const passed = new Evaluator(organization, { ...ORGANIZATION_REQUIRED_PARAMETERS, RemediationMaxConcurrency: '5' }).value(props(organization, 'StackSet')['Parameters']!);
    expect(passed).toContainEqual({ ParameterKey: 'RemediationMaxConcurrency', ParameterValue: '5' });
    expect(resource(organization, 'StackSet').Type).toBe('AWS::CloudFormation::StackSet');
  });
});
