// Each function's role allows exactly the AWS calls its code makes (derived from the source),
// plus an explicit list of permissions the platform needs on its behalf.
import { describe, expect, it } from 'vitest';
import { LEDGER_TAG_KEY } from '../../functions/remediate-imds/ledger.ts';
import { FUNCTIONS } from '../../scripts/build.ts';
import { deriveAwsCalls } from './aws-calls.ts';
import { Evaluator, isObject, loadTemplate, props, resources } from './templates.ts';
import type { Json, JsonObject } from './templates.ts';

type FunctionResource = (typeof FUNCTIONS)[number]['samResource'];

/** Permissions no code calls for, per function, and why. */
const NON_CODE_ACTIONS: Record<FunctionResource, readonly string[]> = {
  EvaluateFunction: [
    // Lambda writes the function's logs with the execution role.
    'logs:CreateLogStream',
    'logs:PutLogEvents',
  ],
  RemediateFunction: [
    'logs:CreateLogStream',
    'logs:PutLogEvents',
    // The SQS event source mapping polls the remediation queue and deletes what succeeded with the execution role.
    'sqs:ReceiveMessage',
    'sqs:DeleteMessage',
    'sqs:GetQueueAttributes',
    // SNS needs the publisher's rights on the KMS key of an encrypted topic.
    'kms:GenerateDataKey*',
    'kms:Decrypt',
  ],
};

const KMS_ACTIONS = ['kms:GenerateDataKey*', 'kms:Decrypt'];

/**
 * Actions allowed on "*": without resource-level permissions, or (the recorder reads) naming a
 * resource whose ARN ends in an id no template can know.
 */
const WILDCARD_ONLY = new Set([
  'ec2:DescribeInstances',
  'config:PutEvaluations',
  'cloudwatch:GetMetricStatistics',
  'config:DescribeConfigurationRecorders',
  'config:DescribeConfigurationRecorderStatus',
]);

interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource: string | string[];
  readonly Condition?: JsonObject;
}

const list = (value: string | string[]) => [value].flat();

/** The role statements of a function's role (inline policies and AWS::IAM::Policy resources). */
function roleStatements(template: JsonObject, functionId: FunctionResource, evaluator: Evaluator): Statement[] {
  const roleRef = props(template, functionId)['Role'];
  const roleId = isObject(roleRef) && Array.isArray(roleRef['Fn::GetAtt']) ? String(roleRef['Fn::GetAtt'][0]) : undefined;
  if (!roleId) throw new Error(`${functionId}.Role must be !GetAtt <role>.Arn of a role in the template`);
  const documents: Json[] = [];
  const inline = props(template, roleId)['Policies'];
  if (Array.isArray(inline)) for (const policy of inline) if (isObject(policy)) documents.push(policy['PolicyDocument']!);
  for (const [id, r] of Object.entries(resources(template))) {
    if (r.Type !== 'AWS::IAM::Policy' || !evaluator.exists(id)) continue;
    const roles = r.Properties?.['Roles'];
    if (Array.isArray(roles) && roles.some((role) => isObject(role) && role['Ref'] === roleId)) {
      documents.push(r.Properties!['PolicyDocument']!);
    }
  }
  return documents.flatMap((document) => {
    const resolved = evaluator.value(document);
    const parsed = (typeof resolved === 'string' ? JSON.parse(resolved) : resolved) as { Statement: Statement | Statement[] };
    return [parsed.Statement].flat();
  });
}

const allowedActions = (statements: Statement[]) =>
  [...new Set(statements.filter((s) => s.Effect === 'Allow').flatMap((s) => list(s.Action)))].sort();

const SCENARIOS = {
  'created topic': { EnableRemediation: 'true' },
  'central topic with its KMS key': {
    EnableRemediation: 'true',
    ExistingTopicArn: 'arn:aws:sns:us-east-1:444455556666:security-findings',
    ExistingTopicKmsKeyArn: 'arn:aws:kms:us-east-1:444455556666:key/0b0e1f6c-2f5e-4a55-9d1e-3d2b1c0a9f88',
  },
  'central topic without a KMS key': {
    EnableRemediation: 'true',
    ExistingTopicArn: 'arn:aws:sns:us-east-1:444455556666:security-findings',
  },
} as const;

const TEMPLATES = { 'template.yaml': loadTemplate('sam'), 'infra/member-account.yaml': loadTemplate('member') };
const MEMBER_ARTIFACTS = { ArtifactBucketPrefix: 'artifacts', ArtifactVersion: '1.0.0' };

describe.each(FUNCTIONS)('$name', (fn) => {
  it('makes AWS calls the source shows (derived by following imports from the handler)', () => {
    const derived = deriveAwsCalls(fn.entry);
    expect(derived.actions.length, `no @aws-sdk command imported anywhere reachable from ${fn.entry}`).toBeGreaterThan(0);
  });

  describe.each(Object.entries(TEMPLATES))('in %s', (_file, template) => {
    describe.each(Object.entries(SCENARIOS))('with %s', (scenario, parameters) => {
      const evaluator = new Evaluator(template, { ...MEMBER_ARTIFACTS, ...parameters });
      const expected = () => {
        const withKms = scenario !== 'central topic without a KMS key';
        const nonCode = NON_CODE_ACTIONS[fn.samResource].filter((a) => withKms || !KMS_ACTIONS.includes(a));
        return [...new Set([...deriveAwsCalls(fn.entry).actions, ...nonCode])].sort();
      };

      it('allows exactly the derived calls plus the listed platform permissions', () => {
        expect(allowedActions(roleStatements(template, fn.samResource, evaluator))).toEqual(expected());
      });

      it('uses "*" only for actions without resource-level permissions', () => {
        const wide = roleStatements(template, fn.samResource, evaluator)
          .filter((s) => s.Effect === 'Allow' && list(s.Resource).includes('*'))
          .flatMap((s) => list(s.Action))
          .filter((a) => !WILDCARD_ONLY.has(a));
        expect(wide).toEqual([]);
      });
    });
  });
});

describe.each(Object.entries(TEMPLATES))('remediation role in %s', (_file, template) => {
  const evaluator = new Evaluator(template, { ...MEMBER_ARTIFACTS, EnableRemediation: 'true', ExemptionTagKey: 'security/keep-imds' });
  const statements = roleStatements(template, 'RemediateFunction', evaluator);
  const allowing = (action: string) => statements.filter((s) => s.Effect === 'Allow' && list(s.Action).includes(action));

  it('denies ModifyInstanceMetadataOptions and the ledger tag on instances carrying the exemption tag', () => {
    expect(statements).toContainEqual({
      Sid: 'NeverModifyExemptInstances',
      Effect: 'Deny',
      Action: ['ec2:ModifyInstanceMetadataOptions', 'ec2:CreateTags'],
      Resource: '*',
      Condition: { Null: { 'aws:ResourceTag/security/keep-imds': 'false' } },
    });
  });

  it('scopes the fix to instances of its own account and region', () => {
    expect(allowing('ec2:ModifyInstanceMetadataOptions').flatMap((s) => list(s.Resource))).toEqual([
      'arn:aws:ec2:eu-west-1:111122223333:instance/*',
    ]);
  });

  it('may write the ledger tag and no other tag, on instances of its own account and region', () => {
    expect(allowing('ec2:CreateTags')).toEqual([
      {
        Effect: 'Allow',
        Action: 'ec2:CreateTags',
        Resource: 'arn:aws:ec2:eu-west-1:111122223333:instance/*',
        Condition: {
          // Every key in the request is the ledger key, and the request names at least one key.
          'ForAllValues:StringEquals': { 'aws:TagKeys': [LEDGER_TAG_KEY] },
          Null: { 'aws:TagKeys': 'false' },
        },
      },
    ]);
  });

  it('publishes to the notification topic only', () => {
    expect(allowing('sns:Publish').flatMap((s) => list(s.Resource))).toEqual(['<NotificationTopic>']);
  });

  it('sends refused events to its own dead-letter queue only', () => {
    expect(allowing('sqs:SendMessage').flatMap((s) => list(s.Resource))).toEqual(['<RemediationFailureQueue.Arn>']);
  });

  it('lets the event source mapping read and delete messages of the remediation queue only', () => {
    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']) {
      expect(allowing(action).flatMap((s) => list(s.Resource)), action).toEqual(['<RemediationQueue.Arn>']);
    }
  });

  it('uses the topic key only through SNS in its own region', () => {
    expect(allowing('kms:Decrypt')).toEqual([
      expect.objectContaining({ Resource: '<NotificationKey.Arn>', Condition: { StringEquals: { 'kms:ViaService': 'sns.eu-west-1.amazonaws.com' } } }),
    ]);
  });

  it('names the SNS endpoint of the partition it is deployed in (China regions end in amazonaws.com.cn)', () => {
    const china = new Evaluator(template, { ...MEMBER_ARTIFACTS, EnableRemediation: 'true' }, { 'AWS::Partition': 'aws-cn', 'AWS::Region': 'cn-north-1', 'AWS::URLSuffix': 'amazonaws.com.cn' });
    const conditions = roleStatements(template, 'RemediateFunction', china)
      .filter((s) => s.Effect === 'Allow' && list(s.Action).includes('kms:Decrypt'))
      .map((s) => s.Condition);
    expect(conditions).toEqual([{ StringEquals: { 'kms:ViaService': 'sns.cn-north-1.amazonaws.com.cn' } }]);
  });
});

describe.each(Object.entries(TEMPLATES))('evaluation role in %s', (_file, template) => {
  const evaluator = new Evaluator(template, MEMBER_ARTIFACTS);
  const statements = roleStatements(template, 'EvaluateFunction', evaluator);

  it('reads compliance details of its account and region\'s rules, granted inside the role so the first sweep has it', () => {
    const scoped = statements.filter((s) => list(s.Action).includes('config:GetComplianceDetailsByConfigRule'));
    expect(scoped.flatMap((s) => list(s.Resource))).toEqual(['arn:aws:config:eu-west-1:111122223333:config-rule/*']);
    // A separate AWS::IAM::Policy naming the rule attaches only after the rule exists, and Config
    // runs the first evaluation as soon as it does: the grant must not depend on the rule.
    const attached = Object.values(resources(template)).filter((r) => r.Type === 'AWS::IAM::Policy');
    expect(attached).toEqual([]);
    expect(JSON.stringify(props(template, 'EvaluateFunctionRole'))).not.toMatch(/"(Ref|Fn::GetAtt)":\[?"ConfigRule/);
  });

  it('writes logs to its own log group only', () => {
    const logs = statements.filter((s) => list(s.Action).includes('logs:PutLogEvents'));
    expect(logs.flatMap((s) => list(s.Resource))).toEqual(['<EvaluateLogGroup.Arn>']);
  });
});
