// template.yaml (SAM, one account) and infra/member-account.yaml (StackSet, every account) must
// deploy the same thing; only how the function code is shipped may differ.
import { describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../scripts/build.ts';
import { codeSha256Parameter } from '../../scripts/package-org.ts';
import { Evaluator, isObject, loadTemplate, MEMBER_ARTIFACT_PARAMETERS, ORGANIZATION_REQUIRED_PARAMETERS, props, resources, section } from './templates.ts';
import type { JsonObject, Resource } from './templates.ts';

const sam = loadTemplate('sam');
const member = loadTemplate('member');
const organization = loadTemplate('organization');

const MEMBER_ONLY_PARAMETERS = Object.keys(MEMBER_ARTIFACT_PARAMETERS);
const FUNCTION_IDS = new Set<string>(FUNCTIONS.map((f) => f.samResource));

/** A function resource without the packaging-specific parts. */
function functionShape(r: Resource): JsonObject {
  const { CodeUri: _codeUri, Code: _code, ...rest } = r.Properties ?? {};
  return { Condition: r.Condition ?? null, DependsOn: r.DependsOn ?? null, Properties: rest };
}

describe('template.yaml and infra/member-account.yaml', () => {
  it('declare the same parameters with the same defaults and constraints', () => {
    const memberParameters = { ...section(member, 'Parameters') };
    for (const id of MEMBER_ONLY_PARAMETERS) delete memberParameters[id];
    expect(memberParameters).toEqual(section(sam, 'Parameters'));
  });

  it('declare the same conditions', () => {
    expect(section(member, 'Conditions')).toEqual(section(sam, 'Conditions'));
  });

  it('declare the same resources', () => {
    expect(Object.keys(resources(member)).sort()).toEqual(Object.keys(resources(sam)).sort());
  });

  it.each(['ConfigRule', 'ConfigRulePermission'])('configure %s identically', (id) => {
    expect(resources(member)[id]).toEqual(resources(sam)[id]);
  });

  it.each(['EvaluateFunctionRole', 'RemediateFunctionRole'])('give %s the same IAM policies', (id) => {
    expect(resources(member)[id]).toEqual(resources(sam)[id]);
  });

  it.each(['ComplianceChangeRule', 'InstanceLaunchRule'])('match the same EventBridge events (%s)', (rule) => {
    expect(props(member, rule)['EventPattern']).toEqual(props(sam, rule)['EventPattern']);
  });

  it.each([...FUNCTION_IDS])('give %s the same runtime settings and environment', (id) => {
    expect(functionShape(resources(member)[id]!)).toEqual(functionShape(resources(sam)[id]!));
    expect(props(member, id)['Environment']).toEqual(props(sam, id)['Environment']);
  });

  it('agree on every other resource, property for property', () => {
    for (const [id, r] of Object.entries(resources(sam))) {
      if (FUNCTION_IDS.has(id)) continue;
      expect(resources(member)[id], id).toEqual(r);
    }
  });

  it('have the same outputs', () => {
    expect(section(member, 'Outputs')).toEqual(section(sam, 'Outputs'));
  });

  it('ship code the way each deployment expects', () => {
    for (const fn of FUNCTIONS) {
      expect(resources(sam)[fn.samResource]!.Type).toBe('AWS::Serverless::Function');
      expect(resources(member)[fn.samResource]!.Type).toBe('AWS::Lambda::Function');
      expect(props(member, fn.samResource)['Code']).toEqual({
        S3Bucket: { 'Fn::Sub': '${ArtifactBucketPrefix}-${ArtifactBucketOwner}-${AWS::Region}-an' },
        S3Key: { 'Fn::Sub': `eks-imds-guard/${fn.name}/\${${codeSha256Parameter(fn)}}.zip` },
      });
    }
    expect(member['Transform']).toBeUndefined();
  });
});

describe('infra/organization.yaml', () => {
  const stackSet = props(organization, 'StackSet');
  const passedKeys = (parameters: Record<string, string>) => {
    const evaluated = new Evaluator(organization, parameters).value(stackSet['Parameters']!) as { ParameterKey: string }[];
    return evaluated.map((p) => p.ParameterKey).sort();
  };
  const REQUIRED = ORGANIZATION_REQUIRED_PARAMETERS;

  it('declares every member parameter with the same definition', () => {
    const orgParameters = section(organization, 'Parameters');
    for (const [id, definition] of Object.entries(section(member, 'Parameters'))) {
      expect(orgParameters[id], id).toEqual(definition);
    }
  });

  it('passes every member parameter to the StackSet when it has a value', () => {
    const all = Object.keys(section(member, 'Parameters')).sort();
    const filled = {
      ...REQUIRED,
      MaxHopLimit: '8',
      ClusterNames: 'prod',
      NotificationEmail: 'sec@example.com',
      ExistingTopicArn: 'arn:aws:sns:us-east-1:444455556666:findings',
      ExistingTopicKmsKeyArn: 'arn:aws:kms:us-east-1:444455556666:key/0b0e1f6c-2f5e-4a55-9d1e-3d2b1c0a9f88',
      CodeSigningProfileVersionArn: 'arn:aws:signer:us-east-1:444455556666:/signing-profiles/imds_guard/a1B2c3D4e5',
      CentralEventBusArn: 'arn:aws:events:us-east-1:444455556666:event-bus/reports',
    };
    expect(passedKeys(filled)).toEqual(all);
    // Empty optional values are left out so the member default applies.
    const omitted = ['CentralEventBusArn', 'ClusterNames', 'CodeSigningProfileVersionArn', 'ExistingTopicArn', 'ExistingTopicKmsKeyArn', 'MaxHopLimit', 'NotificationEmail'];
    expect(passedKeys(REQUIRED)).toEqual(all.filter((k) => !omitted.includes(k)));
  });

  it('points members at the central topic and its key when it creates one', () => {
    const evaluated = new Evaluator(organization, { ...REQUIRED, CreateCentralTopic: 'true', OrganizationId: 'o-abcdefghij' }).value(
      stackSet['Parameters']!,
    ) as { ParameterKey: string; ParameterValue: string }[];
    expect(evaluated).toContainEqual({ ParameterKey: 'ExistingTopicArn', ParameterValue: '<CentralTopic>' });
    expect(evaluated).toContainEqual({ ParameterKey: 'ExistingTopicKmsKeyArn', ParameterValue: '<CentralTopicKey.Arn>' });
    expect(evaluated).toContainEqual({ ParameterKey: 'CentralEventBusArn', ParameterValue: '<CentralEventBus.Arn>' });
  });

  it('is a service-managed, auto-deploying StackSet', () => {
    expect(stackSet).toMatchObject({
      PermissionModel: 'SERVICE_MANAGED',
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
      OperationPreferences: { RegionConcurrencyType: 'PARALLEL' },
      CallAs: { Ref: 'CallAs' },
      TemplateURL: { Ref: 'TemplateURL' },
    });
    expect(isObject(section(organization, 'Parameters')['CallAs'])).toBe(true);
  });
});
