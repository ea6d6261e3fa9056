// Resource policies (KMS keys, SNS topics, SQS queues) grant no more than the templates use, and the
// organization's central topic admits findings from the member stacks' remediation roles only.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../scripts/build.ts';
import { Evaluator, isObject, loadTemplate, props, resources, section, walk } from './templates.ts';
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

const MEMBER_ARTIFACTS = { ArtifactBucketPrefix: 'artifacts', ArtifactVersion: '1.0.0' };
const ORGANIZATION_REQUIRED = {
  TemplateURL: 'https://artifacts-eu-west-1.s3.eu-west-1.amazonaws.com/eks-imds-guard/1.0.0/member-account.yaml',
  TargetOrganizationalUnitIds: 'ou-abcd-12345678',
  TargetRegions: 'eu-west-1',
  ArtifactBucketPrefix: 'artifacts',
  ArtifactVersion: '1.0.0',
};
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

/** IAM's ArnLike: "*" any run of characters, "?" one character, case-sensitive. */
function arnLike(pattern: string, arn: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(arn);
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

  it('names the remediation role, and no other role, within IAM\'s 64 characters', () => {
    const named = Object.entries(resources(template))
      .filter(([, r]) => r.Type === 'AWS::IAM::Role' && r.Properties?.['RoleName'] !== undefined)
      .map(([id]) => id);
    expect(named).toEqual(['RemediateFunctionRole']);
    // The longest RuleName the parameter allows, in a 16-character region (the longest today have 15).
    const pattern = new RegExp(`^(?:${String((section(template, 'Parameters')['RuleName'] as JsonObject)['AllowedPattern'])})$`, 'u');
    const longest = Math.max(...Array.from({ length: 100 }, (_, n) => n + 1).filter((n) => pattern.test('a'.repeat(n))));
    const roleName = new Evaluator(template, { ...parameters, RuleName: 'a'.repeat(longest) }, { 'AWS::Region': 'xx-abcdefghij-1' }).value(
      props(template, 'RemediateFunctionRole')['RoleName']!,
    );
    expect(String(roleName).length).toBeLessThanOrEqual(64);
  });
});

describe('central topic of infra/organization.yaml', () => {
  const organization = loadTemplate('organization');
  const member = loadTemplate('member');
  const statements = policyStatements(new Evaluator(organization, CENTRAL), organization);
  const forAnyone = statements.filter(({ statement: s }) => s.Effect === 'Allow' && principals(s).aws.includes('*'));

  /** The member stack's remediation role ARN in another account, for a RuleName and region. */
  const memberRoleArn = (ruleName: string, region: string, account = '444455556666') => {
    const roleName = new Evaluator(member, { ...MEMBER_ARTIFACTS, EnableRemediation: 'true', RuleName: ruleName }, { 'AWS::Region': region }).value(
      props(member, 'RemediateFunctionRole')['RoleName']!,
    );
    return `arn:aws:iam::${account}:role/${String(roleName)}`;
  };

  it('admits principals of any account only on the topic and its key, each with a role and an organization condition', () => {
    expect(forAnyone.map(({ id, statement }) => `${id}/${statement.Sid}`).sort()).toEqual([
      'CentralTopicKey/OrganizationRemediationRoles',
      'CentralTopicPolicy/OrganizationRemediationRoles',
    ]);
    for (const { statement } of forAnyone) {
      expect(statement.Condition?.['StringEquals']?.['aws:PrincipalOrgID']).toBe('o-abcdefghij');
      expect(list(statement.Condition?.['ArnLike']?.['aws:PrincipalArn'])).toHaveLength(1);
    }
  });

  it('matches the remediation role the member stacks create here, and nothing else', () => {
    for (const { statement } of forAnyone) {
      const [pattern] = list(statement.Condition!['ArnLike']!['aws:PrincipalArn']!);
      expect(arnLike(pattern!, memberRoleArn('eks-imds-guard', 'eu-west-1'))).toBe(true);
      expect(arnLike(pattern!, memberRoleArn('eks-imds-guard', 'eu-west-1', '777788889999'))).toBe(true);
      // The same rule's role in another region, another rule's role, and other roles of a member account.
      expect(arnLike(pattern!, memberRoleArn('eks-imds-guard', 'us-east-1'))).toBe(false);
      expect(arnLike(pattern!, memberRoleArn('other-rule', 'eu-west-1'))).toBe(false);
      expect(arnLike(pattern!, 'arn:aws:iam::444455556666:role/StackSet-eks-imds-guard-0b0e1f6c-EvaluateFunctionRole-AbC123')).toBe(false);
      expect(arnLike(pattern!, 'arn:aws:iam::444455556666:role/Admin')).toBe(false);
      expect(arnLike(pattern!, 'arn:aws:iam::444455556666:user/eks-imds-guard-remediate-eu-west-1')).toBe(false);
    }
  });

  it('lets CloudWatch alarms publish only on behalf of the organization', () => {
    const alarms = statements.filter(({ statement: s }) => s.Effect === 'Allow' && principals(s).service.includes('cloudwatch.amazonaws.com'));
    expect(alarms.map(({ id }) => id).sort()).toEqual(['CentralTopicKey', 'CentralTopicPolicy']);
    for (const { statement } of alarms) expect(statement.Condition?.['StringEquals']?.['aws:SourceOrgID']).toBe('o-abcdefghij');
  });

  it('deploys member stacks with the capability their named role needs, as sam deploy does', () => {
    expect(props(organization, 'StackSet')['Capabilities']).toEqual(['CAPABILITY_NAMED_IAM']);
    const samconfig = readFileSync(join(REPO_ROOT, 'samconfig.toml'), 'utf8');
    expect(samconfig).toMatch(/^capabilities = "CAPABILITY_NAMED_IAM"$/m);
  });

  it('passes RuleName through, so the role names match', () => {
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
