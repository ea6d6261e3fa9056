// Each function's role allows exactly the AWS calls its code makes (derived from the source),
// plus an explicit list of permissions the platform needs on its behalf.
import type { ModifyInstanceMetadataOptionsRequest } from '@aws-sdk/client-ec2';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LEDGER_TAG_KEY } from '../../functions/remediate-imds/ledger.ts';
import { assessInstance, planChange } from '../../functions/remediate-imds/plan.ts';
import { REPORT_EVENT } from '../../functions/remediate-imds/report-delivery.ts';
import { parseRuleParameters } from '../../functions/shared/parameters.ts';
import { FUNCTIONS } from '../../scripts/build.ts';
import { managedNodeTags } from '../builders/config-item.ts';
import { anEc2Instance } from '../builders/ec2-instance.ts';
import { deriveAwsCalls } from './aws-calls.ts';
import { conditionHolds, type RequestContext } from './iam-conditions.ts';
import { Evaluator, isObject, loadTemplate, props, resources, MEMBER_ARTIFACT_PARAMETERS as MEMBER_ARTIFACTS } from './templates.ts';
import type { Json, JsonObject } from './templates.ts';

type FunctionResource = (typeof FUNCTIONS)[number]['samResource'];

/** Permissions no code calls for, per function, and why. */
const NON_CODE_ACTIONS: Record<FunctionResource, readonly string[]> = {
  EvaluateFunction: [
    // Lambda writes the function's logs with the execution role.
    'logs:CreateLogStream',
    'logs:PutLogEvents',
  ],
  EvaluateSourcesFunction: ['logs:CreateLogStream', 'logs:PutLogEvents'],
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
  'ec2:DescribeLaunchTemplates',
  'ec2:DescribeLaunchTemplateVersions',
  'ec2:DescribeImages',
  'ec2:GetInstanceMetadataDefaults',
  'autoscaling:DescribeAutoScalingGroups',
  'autoscaling:DescribeLaunchConfigurations',
  'ec2:ModifyInstanceMetadataDefaults',
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

  it('denies nothing by the exemption tag: IAM cannot read its expiry, and an expired exemption must not block the fix', () => {
    expect(statements.filter((s) => s.Effect === 'Deny')).toEqual([]);
    expect(JSON.stringify(statements)).not.toContain('security/keep-imds');
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
          ArnEquals: { 'lambda:SourceFunctionArn': 'arn:aws:lambda:eu-west-1:111122223333:function:eks-imds-guard-remediate' },
        },
      },
    ]);
  });

  it('publishes to the notification topic only', () => {
    expect(allowing('sns:Publish').flatMap((s) => list(s.Resource))).toEqual(['<NotificationTopic>']);
  });

  it('sends refused events to its own dead-letter queue only', () => {
    // The failure queue (a refused event), and its own queue (a delayed re-look).
    expect(allowing('sqs:SendMessage').flatMap((s) => list(s.Resource)).sort()).toEqual(['<RemediationFailureQueue.Arn>', '<RemediationQueue.Arn>']);
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

/** The fix's request as IAM sees it: each parameter as ec2:Attribute/<Name>, absent when not sent. */
function modifyContext(request: ModifyInstanceMetadataOptionsRequest, sourceFunctionArn: string | undefined): RequestContext {
  return {
    'ec2:Attribute/HttpTokens': request.HttpTokens,
    'ec2:Attribute/HttpPutResponseHopLimit': request.HttpPutResponseHopLimit === undefined ? undefined : String(request.HttpPutResponseHopLimit),
    'ec2:Attribute/HttpEndpoint': request.HttpEndpoint,
    'ec2:Attribute/HttpProtocolIpv6': request.HttpProtocolIpv6,
    'ec2:Attribute/InstanceMetadataTags': request.InstanceMetadataTags,
    'lambda:SourceFunctionArn': sourceFunctionArn,
  };
}

describe.each(Object.entries(TEMPLATES))('remediation role in %s cannot weaken IMDS', (_file, template) => {
  const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:111122223333:function:eks-imds-guard-remediate';
  const allows = (parameters: Record<string, string>, action: string, context: RequestContext) =>
    roleStatements(template, 'RemediateFunction', new Evaluator(template, { ...MEMBER_ARTIFACTS, EnableRemediation: 'true', ...parameters }))
      .filter((s) => s.Effect === 'Allow' && list(s.Action).includes(action))
      .some((s) => conditionHolds(s.Condition as Parameters<typeof conditionHolds>[0], context));
  const modifyAllowed = (parameters: Record<string, string>, request: ModifyInstanceMetadataOptionsRequest, source: string | undefined = FUNCTION_ARN) =>
    allows(parameters, 'ec2:ModifyInstanceMetadataOptions', modifyContext(request, source));

  it('allows every request the remediation plans, for any instance, rule parameters and IMDSv1 finding', () => {
    const scenario = fc.record({
      min: fc.integer({ min: 1, max: 64 }),
      maxOffset: fc.option(fc.integer({ min: 0, max: 63 }), { nil: undefined }),
      requireHttpEndpoint: fc.boolean(),
      httpTokens: fc.constantFrom('optional', 'required', undefined),
      hopLimit: fc.option(fc.integer({ min: 1, max: 64 }), { nil: undefined }),
      httpEndpoint: fc.constantFrom('enabled', 'disabled', undefined),
      imdsv1Calls: fc.option(fc.constantFrom(0, 1, 40), { nil: undefined }),
    });
    let planned = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        const max = s.maxOffset === undefined ? undefined : Math.min(64, s.min + s.maxOffset);
        const parameters = {
          MinHopLimit: String(s.min),
          MaxHopLimit: max === undefined ? '' : String(max),
          RequireHttpEndpoint: String(s.requireHttpEndpoint),
        };
        const instance = anEc2Instance({ httpTokens: s.httpTokens, hopLimit: s.hopLimit, httpEndpoint: s.httpEndpoint, tags: managedNodeTags() });
        const assessment = assessInstance(instance, instance.InstanceId!, parseRuleParameters(parameters), new Date('2026-12-03T00:00:00Z'));
        if (assessment.kind !== 'act') return;
        const imdsv1 = s.imdsv1Calls === undefined ? undefined : { lookbackHours: 24, calls: s.imdsv1Calls };
        const { request } = planChange(assessment, imdsv1);
        planned++;
        expect(modifyAllowed(parameters, request), JSON.stringify(request)).toBe(true);
        expect(modifyAllowed(parameters, { ...request, DryRun: true })).toBe(true);
      }),
      { numRuns: 300 },
    );
    expect(planned).toBeGreaterThan(100);
  });

  const FIX = { InstanceId: 'i-0123456789abcdef0', HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' } as const;
  it.each([
    ['tokens optional', {}, { ...FIX, HttpTokens: 'optional' }],
    ['hop limit 64 (no MaxHopLimit means 64 is the top)', { MaxHopLimit: '3' }, { ...FIX, HttpPutResponseHopLimit: 64 }],
    ['a hop limit below MinHopLimit', { MinHopLimit: '2' }, { ...FIX, HttpPutResponseHopLimit: 1 }],
    ['a hop limit above MaxHopLimit', { MinHopLimit: '1', MaxHopLimit: '1' }, { ...FIX, HttpPutResponseHopLimit: 2 }],
    ['no hop limit at all', {}, { InstanceId: FIX.InstanceId, HttpTokens: 'required', HttpEndpoint: 'enabled' }],
    ['the endpoint disabled', {}, { ...FIX, HttpEndpoint: 'disabled' }],
    ['the endpoint enabled when the rule does not require it', { RequireHttpEndpoint: 'false' }, FIX],
    ['IMDS over IPv6 turned on', {}, { ...FIX, HttpProtocolIpv6: 'enabled' }],
    ['instance tags in IMDS turned on', {}, { ...FIX, InstanceMetadataTags: 'enabled' }],
  ] as const)('refuses %s', (_case, parameters, request) => {
    expect(modifyAllowed(parameters, request as ModifyInstanceMetadataOptionsRequest)).toBe(false);
  });

  it('allows the rule\'s own fix, and the hop limit up to 64 without MaxHopLimit', () => {
    expect(modifyAllowed({}, FIX)).toBe(true);
    expect(modifyAllowed({}, { ...FIX, HttpPutResponseHopLimit: 64 })).toBe(true);
    expect(modifyAllowed({ RequireHttpEndpoint: 'false' }, { InstanceId: FIX.InstanceId, HttpTokens: 'required', HttpPutResponseHopLimit: 2 })).toBe(true);
  });

  it('ties every call the code makes to the function: the same credentials used outside it are refused', () => {
    const outside = 'arn:aws:lambda:eu-west-1:111122223333:function:someone-else';
    expect(modifyAllowed({}, FIX, outside)).toBe(false);
    expect(allows({}, 'ec2:ModifyInstanceMetadataOptions', modifyContext(FIX, undefined))).toBe(false);
    for (const action of deriveAwsCalls(FUNCTIONS.find((f) => f.samResource === 'RemediateFunction')!.entry).actions) {
      const context = {
        ...modifyContext(FIX, FUNCTION_ARN),
        'aws:TagKeys': LEDGER_TAG_KEY,
        'events:source': REPORT_EVENT.source,
        'events:detail-type': REPORT_EVENT.detailType,
      };
      expect(allows({}, action, context), action).toBe(true);
      expect(allows({}, action, { ...context, 'lambda:SourceFunctionArn': outside }), action).toBe(false);
    }
  });

  it('names the function by the FunctionName the template gives it', () => {
    const evaluator = new Evaluator(template, { ...MEMBER_ARTIFACTS, EnableRemediation: 'true', RuleName: 'custom' });
    const name = String(evaluator.value(props(template, 'RemediateFunction')['FunctionName']!));
    const arns = roleStatements(template, 'RemediateFunction', evaluator).flatMap((s) => {
      const condition = s.Condition as { ArnEquals?: Record<string, string> } | undefined;
      return condition?.ArnEquals?.['lambda:SourceFunctionArn'] ?? [];
    });
    expect(new Set(arns)).toEqual(new Set([`arn:aws:lambda:eu-west-1:111122223333:function:${name}`]));
  });
});

describe.each(Object.entries(TEMPLATES))('reports forwarded to a central bus in %s', (_file, template) => {
  const BUS = 'arn:aws:events:eu-west-1:999988887777:event-bus/eks-imds-guard-reports';
  const parameters = { ...MEMBER_ARTIFACTS, EnableRemediation: 'true', ExistingTopicArn: 'arn:aws:sns:eu-west-1:999988887777:central', CentralEventBusArn: BUS };
  const evaluator = new Evaluator(template, parameters);
  const statements = roleStatements(template, 'RemediateFunction', evaluator);

  it('gives the function no topic and no right to publish to one: reports leave only as events', () => {
    const environment = evaluator.value(props(template, 'RemediateFunction')['Environment']!) as { Variables: Record<string, string> };
    expect(environment.Variables).not.toHaveProperty('TOPIC_ARN');
    expect(allowedActions(statements)).not.toContain('sns:Publish');
    expect(allowedActions(statements)).not.toContain('kms:Decrypt');
  });

  it('lets the function put only its report events, on its own default bus', () => {
    const puts = statements.filter((s) => s.Effect === 'Allow' && list(s.Action).includes('events:PutEvents'));
    expect(puts.flatMap((s) => list(s.Resource))).toEqual(['arn:aws:events:eu-west-1:111122223333:event-bus/default']);
    expect(puts[0]!.Condition).toMatchObject({ StringEquals: { 'events:source': REPORT_EVENT.source, 'events:detail-type': REPORT_EVENT.detailType } });
  });

  it('forwards exactly those events, from this account, to the central bus with a role that may only put there', () => {
    expect(evaluator.exists('ReportForwardRule')).toBe(true);
    const rule = evaluator.value(props(template, 'ReportForwardRule') as JsonObject) as JsonObject;
    expect(rule['EventPattern']).toEqual({
      source: [REPORT_EVENT.source],
      'detail-type': [REPORT_EVENT.detailType],
      account: ['111122223333'],
      detail: { configRuleName: ['<ConfigRule>', '<SourcesConfigRule>'] },
    });
    expect(rule['Targets']).toEqual([{ Id: 'central-event-bus', Arn: BUS, RoleArn: '<ReportForwardRole.Arn>' }]);
    const role = evaluator.value(props(template, 'ReportForwardRole') as JsonObject) as unknown as { Policies: { PolicyDocument: { Statement: Statement[] } }[] };
    expect(role.Policies.flatMap((p) => p.PolicyDocument.Statement)).toEqual([{ Effect: 'Allow', Action: 'events:PutEvents', Resource: BUS }]);
  });

  it('keeps publishing to the topic when no central bus is given', () => {
    const local = new Evaluator(template, { ...MEMBER_ARTIFACTS, EnableRemediation: 'true' });
    expect(local.exists('ReportForwardRule')).toBe(false);
    expect(allowedActions(roleStatements(template, 'RemediateFunction', local))).toContain('sns:Publish');
  });
});
