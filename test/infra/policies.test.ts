// Resource policies (KMS keys, SNS topics, SQS queues) grant no more than the templates use, and the
// organization's central topic admits findings from the member stacks' remediation roles only.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../scripts/build.ts';
import { REPORT_EVENT } from '../../functions/remediate-imds/report-delivery.ts';
import { arnLike } from './iam-conditions.ts';
import { Evaluator, isObject, loadTemplate, props, resources, section, walk, MEMBER_ARTIFACT_PARAMETERS as MEMBER_ARTIFACTS } from './templates.ts';
import type { Json, JsonObject, TemplateName } from './templates.ts';

interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal: '*' | { readonly AWS?: string | string[]; readonly Service?: string | string[] };
  readonly Action: string | string[];
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

const POLICY_PROPERTY: Record<string, string> = {
  'AWS::KMS::Key': 'KeyPolicy',
  'AWS::SNS::TopicPolicy': 'PolicyDocument',
  'AWS::SQS::QueuePolicy': 'PolicyDocument',
};

const ORGANIZATION_REQUIRED = {
  TemplateURL: 'https://artifacts-eu-west-1.s3.eu-west-1.amazonaws.com/eks-imds-guard/1.0.0/member-account.yaml',
  TargetOrganizationalUnitIds: 'ou-abcd-12345678',
  TargetRegions: 'eu-west-1',
  ...MEMBER_ARTIFACTS,
};
const CENTRAL_STACK_SET = 'eks-imds-guard';
const CENTRAL = { ...ORGANIZATION_REQUIRED, CreateCentralTopic: 'true', OrganizationId: 'o-abcdefghij' };
const SINGLE_ACCOUNT: Partial<Record<TemplateName, Record<string, string>>> = {
  sam: { EnableRemediation: 'true' },
  member: { ...MEMBER_ARTIFACTS, EnableRemediation: 'true' },
};

const list = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : [value].flat() as T[]);

/** Every resource-policy statement of a template, evaluated, keyed by resource id. */
function policyStatements(evaluator: Evaluator, template: JsonObject): { id: string; statement: Statement }[] {
  return Object.entries(resources(template)).flatMap(([id, r]) => {
    const property = POLICY_PROPERTY[r.Type];
    if (!property || !evaluator.exists(id)) return [];
    const document = evaluator.value(r.Properties![property]!) as unknown as { Statement: Statement[] };
    return document.Statement.map((statement) => ({ id, statement }));
  });
}

function principals(statement: Statement): { aws: string[]; service: string[] } {
  if (statement.Principal === '*') return { aws: ['*'], service: [] };
  return { aws: list(statement.Principal.AWS), service: list(statement.Principal.Service) };
}

describe.each(Object.entries(SINGLE_ACCOUNT))('%s', (name, parameters) => {
  const template = loadTemplate(name as TemplateName);
  const evaluator = new Evaluator(template, parameters);
  const statements = policyStatements(evaluator, template);

  it('conditions every Allow to anyone but the account itself', () => {
    const root = 'arn:aws:iam::111122223333:root';
    const open = statements.filter(
      ({ statement: s }) => s.Effect === 'Allow' && !(principals(s).aws.length === 1 && principals(s).aws[0] === root && principals(s).service.length === 0) && !s.Condition,
    );
    expect(open.map(({ id, statement }) => `${id}/${statement.Sid ?? '?'}`)).toEqual([]);
  });

  it('lets a service use the topic key only if that service publishes to the topic in this template', () => {
    // Services that deliver to NotificationTopic: alarms through AlarmActions, EventBridge through rule targets.
    const publishers = new Set<string>();
    for (const [id, r] of Object.entries(resources(template))) {
      if (!evaluator.exists(id)) continue;
      const targetsTopic = (value: Json | undefined) => JSON.stringify(evaluator.value(value ?? null)).includes('<NotificationTopic>');
      if (r.Type === 'AWS::CloudWatch::Alarm' && targetsTopic(r.Properties!['AlarmActions'])) publishers.add('cloudwatch.amazonaws.com');
      if (r.Type === 'AWS::Events::Rule' && list(r.Properties!['Targets'] as Json[]).some((t) => isObject(t) && targetsTopic(t['Arn']))) {
        publishers.add('events.amazonaws.com');
      }
    }
    const keyServices = statements.filter(({ id }) => id === 'NotificationKey').flatMap(({ statement }) => principals(statement).service);
    expect(publishers).toEqual(new Set(['cloudwatch.amazonaws.com']));
    expect(new Set(keyServices)).toEqual(publishers);
  });

  it('names the remediation and report forwarding roles, and no other role, within IAM\'s 64 characters', () => {
    const named = Object.entries(resources(template))
      .filter(([, r]) => r.Type === 'AWS::IAM::Role' && r.Properties?.['RoleName'] !== undefined)
      .map(([id]) => id);
    expect(named.sort()).toEqual(['RemediateFunctionRole', 'ReportForwardRole']);
    // The longest RuleName the parameter allows, in a 16-character region (the longest today have 15).
    const pattern = new RegExp(`^(?:${String((section(template, 'Parameters')['RuleName'] as JsonObject)['AllowedPattern'])})$`, 'u');
    const longest = Math.max(...Array.from({ length: 100 }, (_, n) => n + 1).filter((n) => pattern.test('a'.repeat(n))));
    const longestNames = new Evaluator(template, { ...parameters, RuleName: 'a'.repeat(longest) }, { 'AWS::Region': 'xx-abcdefghij-1' });
    for (const id of named) expect(String(longestNames.value(props(template, id)['RoleName']!)).length, id).toBeLessThanOrEqual(64);
    // EventBridge rule names stop at 64 characters too.
    expect(String(longestNames.value(props(template, 'ReportForwardRule')['Name']!)).length).toBeLessThanOrEqual(64);
  });
});

describe('central topic of infra/organization.yaml', () => {
  const organization = loadTemplate('organization');
  const member = loadTemplate('member');
  const evaluator = new Evaluator(organization, CENTRAL);
  const statements = policyStatements(evaluator, organization);

  it('admits no principal of another account on the topic or its key: no member role can publish a report', () => {
    const forAnyone = statements.filter(({ statement: s }) => s.Effect === 'Allow' && principals(s).aws.length > 0);
    expect(forAnyone.map(({ id, statement }) => `${id}/${statement.Sid}`)).toEqual(['CentralTopicKey/AccountIamPolicies']);
    expect(principals(forAnyone[0]!.statement).aws).toEqual(['arn:aws:iam::111122223333:root']);
  });

  it('takes reports only from the central bus\'s rule, which publishes events as EventBridge delivers them', () => {
    const fromEvents = statements.filter(({ statement: s }) => s.Effect === 'Allow' && principals(s).service.includes('events.amazonaws.com'));
    expect(fromEvents.map(({ id }) => id).sort()).toEqual(['CentralTopicKey', 'CentralTopicPolicy']);
    const ruleArn = `arn:aws:events:eu-west-1:111122223333:rule/${CENTRAL_STACK_SET}-reports/central-topic`;
    // The key spells the rule's ARN out (a !GetAtt would be a cycle): it must be the rule's real ARN.
    const rule = props(organization, 'CentralReportRule');
    expect(`arn:aws:events:eu-west-1:111122223333:rule/${String(evaluator.value(props(organization, 'CentralEventBus')['Name']!))}/${String(rule['Name'])}`).toBe(ruleArn);
    for (const { id, statement } of fromEvents) {
      expect(statement.Condition?.['ArnEquals']?.['aws:SourceArn'], id).toBe(id === 'CentralTopicKey' ? ruleArn : '<CentralReportRule.Arn>');
    }
    const evaluated = evaluator.value(rule as JsonObject) as JsonObject;
    expect(evaluated['EventBusName']).toBe('<CentralEventBus>');
    expect(evaluated['Targets']).toEqual([{ Id: 'central-topic', Arn: '<CentralTopic>' }]);
    expect(evaluated).not.toHaveProperty('Targets.0.InputTransformer');
  });

  it('routes what the member stacks forward: same source and detail-type as the function puts', () => {
    const memberPattern = props(member, 'ReportForwardRule')['EventPattern'] as JsonObject;
    const centralPattern = props(organization, 'CentralReportRule')['EventPattern'] as JsonObject;
    expect(centralPattern).toEqual({ source: [REPORT_EVENT.source], 'detail-type': [REPORT_EVENT.detailType] });
    expect({ source: memberPattern['source'], 'detail-type': memberPattern['detail-type'] }).toEqual(centralPattern);
  });

  it('lets only accounts of the organization put only report events on the central bus', () => {
    const policy = evaluator.value(props(organization, 'CentralEventBus')['Policy']!) as unknown as { Statement: Statement[] };
    expect(policy.Statement).toHaveLength(1);
    const [statement] = policy.Statement;
    expect(list(statement!.Action)).toEqual(['events:PutEvents']);
    expect(statement!.Condition).toEqual({
      StringEquals: { 'aws:PrincipalOrgID': 'o-abcdefghij', 'events:source': REPORT_EVENT.source, 'events:detail-type': REPORT_EVENT.detailType },
    });
  });

  /** A member stack's alarm ARN, named as the member template names it, in some account. */
  const memberAlarmArns = (ruleName: string, region: string, account = '444455556666') => {
    const memberEvaluator = new Evaluator(member, { ...MEMBER_ARTIFACTS, EnableRemediation: 'true', RuleName: ruleName }, { 'AWS::Region': region });
    return Object.entries(resources(member))
      .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
      .map(([id]) => `arn:aws:cloudwatch:${region}:${account}:alarm:${String(memberEvaluator.value(props(member, id)['AlarmName']!))}`);
  };

  it('names every alarm of the member stack "<RuleName>-...", or the central topic would refuse its notifications', () => {
    for (const [id, r] of Object.entries(resources(member))) {
      if (r.Type !== 'AWS::CloudWatch::Alarm') continue;
      expect(r.Properties?.['AlarmName'], id).toEqual({ 'Fn::Sub': expect.stringMatching(/^\$\{RuleName\}-[a-z0-9-]+$/) });
    }
  });

  it('admits the member stacks\' alarms by aws:SourceArn, not any alarm of the organization', () => {
    const alarms = statements.filter(({ statement: s }) => s.Effect === 'Allow' && principals(s).service.includes('cloudwatch.amazonaws.com'));
    expect(alarms.map(({ id }) => id).sort()).toEqual(['CentralTopicKey', 'CentralTopicPolicy']);
    for (const { statement } of alarms) {
      expect(statement.Condition?.['StringEquals']?.['aws:SourceOrgID']).toBe('o-abcdefghij');
      const [pattern] = list(statement.Condition?.['ArnLike']?.['aws:SourceArn']);
      const ours = memberAlarmArns('eks-imds-guard', 'eu-west-1');
      expect(ours.length).toBeGreaterThanOrEqual(3);
      for (const arn of ours) expect(arnLike(pattern!, arn), arn).toBe(true);
      for (const arn of [...memberAlarmArns('eks-imds-guard', 'us-east-1'), ...memberAlarmArns('other-rule', 'eu-west-1')]) {
        expect(arnLike(pattern!, arn), arn).toBe(false);
      }
      expect(arnLike(pattern!, 'arn:aws:cloudwatch:eu-west-1:444455556666:alarm:billing-spike')).toBe(false);
    }
  });

  it('deploys member stacks with the capability their named role needs, as sam deploy does', () => {
    expect(props(organization, 'StackSet')['Capabilities']).toEqual(['CAPABILITY_NAMED_IAM']);
    const samconfig = readFileSync(join(REPO_ROOT, 'samconfig.toml'), 'utf8');
    expect(samconfig).toMatch(/^capabilities = "CAPABILITY_NAMED_IAM"$/m);
  });

  it('passes RuleName through, so the alarm names match', () => {
    const evaluated = new Evaluator(organization, { ...CENTRAL, RuleName: 'custom' }).value(props(organization, 'StackSet')['Parameters']!);
    expect(evaluated).toContainEqual({ ParameterKey: 'RuleName', ParameterValue: 'custom' });
  });
});

describe('Rules of infra/organization.yaml', () => {
  const organization = loadTemplate('organization');
  const failed = (parameters: Record<string, string>) =>
    Object.keys(section(organization, 'Rules')).flatMap((rule) =>
      new Evaluator(organization, parameters, { 'AWS::Region': 'eu-west-1' }).failedAssertions(rule).length > 0 ? [rule] : [],
    );

  it.each([
    ['central topic, its own region only', CENTRAL, []],
    ['central topic, another region too', { ...CENTRAL, TargetRegions: 'eu-west-1,us-east-1' }, ['CentralTopicOnlyInItsRegion']],
    ['central topic, only another region', { ...CENTRAL, TargetRegions: 'us-east-1' }, ['CentralTopicOnlyInItsRegion']],
    ['central topic without organization', { ...CENTRAL, OrganizationId: '' }, ['CentralTopicNeedsOrganization']],
    ['per-account topics, several regions', { ...ORGANIZATION_REQUIRED, TargetRegions: 'eu-west-1,us-east-1,ap-southeast-2' }, []],
  ] as const)('%s', (_case, parameters, expected) => {
    expect(failed(parameters)).toEqual(expected);
  });

  it('references the central-topic parameter in each of its region and organization rules', () => {
    const referenced = new Set<string>();
    walk(section(organization, 'Rules'), (node) => {
      if (isObject(node) && typeof node['Ref'] === 'string') referenced.add(node['Ref']);
    });
    expect([...referenced].sort()).toEqual(['AWS::Region', 'CreateCentralTopic', 'OrganizationId', 'TargetRegions']);
  });
});
