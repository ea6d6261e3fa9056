// The organization-wide view: infra/organization.yaml's optional AWS Config aggregator.
import { describe, expect, it } from 'vitest';
import { Evaluator, loadTemplate, ORGANIZATION_REQUIRED_PARAMETERS as REQUIRED, props, resource } from './templates.ts';

const organization = loadTemplate('organization');

function aggregatorUnder(parameters: Record<string, string>) {
  const evaluator = new Evaluator(organization, { ...REQUIRED, ...parameters });
  return {
    exists: evaluator.exists('ConfigurationAggregator') && evaluator.exists('AggregatorRole'),
    properties: evaluator.value(props(organization, 'ConfigurationAggregator')),
  };
}

describe('the AWS Config aggregator of infra/organization.yaml', () => {
  it('is not created unless asked for', () => {
    expect(aggregatorUnder({}).exists).toBe(false);
  });

  it('aggregates the whole organization in every region by default, through its own role', () => {
    const { exists, properties } = aggregatorUnder({ CreateAggregator: 'true' });
    expect(exists).toBe(true);
    expect(properties).toEqual({
      ConfigurationAggregatorName: 'eks-imds-guard',
      OrganizationAggregationSource: { RoleArn: '<AggregatorRole.Arn>', AllAwsRegions: true },
    });
  });

  it('aggregates only the listed regions when given', () => {
    const { properties } = aggregatorUnder({ CreateAggregator: 'true', AggregatorName: 'security-view', AggregatorRegions: 'us-east-1,eu-west-1' });
    expect(properties).toEqual({
      ConfigurationAggregatorName: 'security-view',
      OrganizationAggregationSource: { RoleArn: '<AggregatorRole.Arn>', AwsRegions: ['us-east-1', 'eu-west-1'] },
    });
  });

  it('gives AWS Config, and only AWS Config, the managed organizations policy', () => {
    const role = new Evaluator(organization, { ...REQUIRED, CreateAggregator: 'true' }).value(props(organization, 'AggregatorRole'));
    expect(role).toMatchObject({
      AssumeRolePolicyDocument: {
        Statement: [{ Effect: 'Allow', Principal: { Service: 'config.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      },
      ManagedPolicyArns: ['arn:aws:iam::aws:policy/service-role/AWSConfigRoleForOrganizations'],
    });
    expect(Object.keys(props(organization, 'AggregatorRole'))).not.toContain('Policies');
    expect(resource(organization, 'AggregatorRole').Condition).toBe('Aggregator');
  });

  it.each([
    ['AggregatorRegions', 'us-east-1,eu-west-1', true],
    ['AggregatorRegions', '', true],
    ['AggregatorRegions', 'us-east-1,', false],
    ['AggregatorRegions', 'US-EAST-1', false],
    ['AggregatorName', 'org_view-1', true],
    ['AggregatorName', 'org view', false],
  ])('%s pattern: %j accepted = %s', (name, value, accepted) => {
    const definition = (organization['Parameters'] as Record<string, { AllowedPattern: string }>)[name]!;
    expect(new RegExp(definition.AllowedPattern).test(value)).toBe(accepted);
  });
});
