// The rule's InputParameters are exactly the keys the rule's parser accepts, with its defaults,
// and the remediation function sees the same parameters in RULE_PARAMETERS.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RULE_PARAMETER_VALUES,
  RULE_PARAMETER_NAMES,
  parseRuleParameters,
} from '../../functions/shared/parameters.ts';
import { Evaluator, isObject, loadTemplate, props, section } from './templates.ts';

const TEMPLATES = { 'template.yaml': loadTemplate('sam'), 'infra/member-account.yaml': loadTemplate('member') };
const MEMBER_ARTIFACTS = { ArtifactBucketPrefix: 'artifacts', ArtifactVersion: '1.0.0' };

const REMEDIATION_ENVIRONMENT = [
  'CONFIG_RULE_NAME',
  'TOPIC_ARN',
  'REMEDIATION_MODE',
  'IMDSV1_GUARD',
  'IMDSV1_LOOKBACK_HOURS',
  'RULE_PARAMETERS',
  'POWERTOOLS_SERVICE_NAME',
  'POWERTOOLS_METRICS_NAMESPACE',
  'NODE_OPTIONS',
];
const EVALUATION_ENVIRONMENT = ['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE', 'NODE_OPTIONS'];

const SCENARIOS: Record<string, Record<string, string>> = {
  defaults: {},
  'every optional value set': {
    MinHopLimit: '2',
    MaxHopLimit: '4',
    ClusterNames: 'prod-eu,staging_1',
    NodeTagKeys: 'eks:cluster-name,kubernetes.io/cluster/*',
    ExemptionTagKey: 'security/keep-imds',
    RequireHttpEndpoint: 'false',
    RequireInstanceProfile: 'false',
  },
};

describe.each(Object.entries(TEMPLATES))('%s', (_file, template) => {
  const inputParameters = props(template, 'ConfigRule')['InputParameters'];

  it('passes exactly RULE_PARAMETER_NAMES to the rule', () => {
    expect(isObject(inputParameters) ? Object.keys(inputParameters).sort() : inputParameters).toEqual([...RULE_PARAMETER_NAMES].sort());
  });

  it('defaults each rule parameter to the value the rule itself assumes', () => {
    const parameters = section(template, 'Parameters');
    for (const name of RULE_PARAMETER_NAMES) {
      const definition = parameters[name];
      expect(isObject(definition) ? String(definition['Default']) : undefined, name).toBe(DEFAULT_RULE_PARAMETER_VALUES[name]);
    }
  });

  describe.each(Object.entries(SCENARIOS))('with %s', (_scenario, values) => {
    const evaluator = new Evaluator(template, { ...MEMBER_ARTIFACTS, EnableRemediation: 'true', ...values });
    const passed = evaluator.value(inputParameters!) as Record<string, string>;

    it('gives the rule parameters its parser accepts, without blank values', () => {
      expect(() => parseRuleParameters(passed)).not.toThrow();
      expect(Object.values(passed).filter((v) => v.trim() === '')).toEqual([]);
      for (const [name, value] of Object.entries(values)) expect(passed[name], name).toBe(value);
    });

    it('gives the remediation function the same parameters in RULE_PARAMETERS', () => {
      const variables = evaluator.value(props(template, 'RemediateFunction')['Environment']!) as { Variables: Record<string, string> };
      expect(JSON.parse(variables.Variables['RULE_PARAMETERS']!)).toEqual(passed);
    });
  });

  it('sets the environment variables each function reads', () => {
    const names = (id: string) => {
      const env = props(template, id)['Environment'];
      const variables = isObject(env) ? env['Variables'] : undefined;
      return isObject(variables) ? Object.keys(variables).sort() : [];
    };
    expect(names('RemediateFunction')).toEqual([...REMEDIATION_ENVIRONMENT].sort());
    expect(names('EvaluateFunction')).toEqual([...EVALUATION_ENVIRONMENT].sort());
  });
});
