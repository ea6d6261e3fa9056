// The rule's InputParameters are exactly the keys the rule's parser accepts, with its defaults,
// and the remediation function sees the same parameters in RULE_PARAMETERS.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RULE_PARAMETER_VALUES,
  RULE_PARAMETER_NAMES,
  parseRuleParameters,
} from '../../functions/shared/parameters.ts';
import { Evaluator, isObject, loadTemplate, props, section, MEMBER_ARTIFACT_PARAMETERS as MEMBER_ARTIFACTS } from './templates.ts';

const TEMPLATES = { 'template.yaml': loadTemplate('sam'), 'infra/member-account.yaml': loadTemplate('member') };

const REMEDIATION_ENVIRONMENT = [
  'CONFIG_RULE_NAME',
  'SOURCES_CONFIG_RULE_NAME',
  'TOPIC_ARN',
  'REMEDIATION_MODE',
  'IMDSV1_GUARD',
  'IMDSV1_LOOKBACK_HOURS',
  'RULE_PARAMETERS',
  'REMEDIATION_QUEUE_URL',
  'DEAD_LETTER_QUEUE_URL',
  'POWERTOOLS_SERVICE_NAME',
  'POWERTOOLS_METRICS_NAMESPACE',
  'NODE_OPTIONS',
];
const EVALUATION_ENVIRONMENT = ['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE', 'NODE_OPTIONS'];
// The sources function reports the account defaults against its own account.
const SOURCES_ENVIRONMENT = [...EVALUATION_ENVIRONMENT, 'ACCOUNT_ID'];

const SCENARIOS: Record<string, Record<string, string>> = {
  defaults: {},
  'every optional value set': {
    MinHopLimit: '2',
    MaxHopLimit: '4',
    ClusterNames: 'prod-eu,staging_1',
    NodeTagKeys: 'eks:cluster-name,kubernetes.io/cluster/*',
    ExemptionTagKey: 'security/keep-imds',
    ExemptionMaxDays: '30',
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
    expect(names('EvaluateSourcesFunction')).toEqual([...SOURCES_ENVIRONMENT].sort());
  });
});

// CloudFormation checks each parameter's AllowedPattern before anything is deployed; a value it lets
// through that the rule's parser refuses would only show up later, as a failing rule.
describe.each(Object.entries({ ...TEMPLATES, 'infra/organization.yaml': loadTemplate('organization') }))('%s parameter patterns', (_file, template) => {
  const allowed = (name: string) => {
    const definition = section(template, 'Parameters')[name];
    const pattern = isObject(definition) ? definition['AllowedPattern'] : undefined;
    if (typeof pattern !== 'string') throw new Error(`${name} has no AllowedPattern`);
    // CloudFormation's patterns are Java regexes; these use nothing JavaScript reads differently.
    const regex = new RegExp(`^(?:${pattern})$`, 'u');
    return (value: string) => regex.test(value);
  };
  const parserAccepts = (parameters: Record<string, string>) => {
    try {
      parseRuleParameters(parameters);
      return true;
    } catch {
      return false;
    }
  };

  describe('NodeTagKeys', () => {
    const pattern = allowed('NodeTagKeys');
    const key128 = 'k'.repeat(128);

    it.each([
      ['eks:cluster-name,kubernetes.io/cluster/*', true],
      [DEFAULT_RULE_PARAMETER_VALUES.NodeTagKeys, true],
      ['eks:cluster-name, karpenter.sh/nodepool', true],
      ['team name*', true],
      [key128, true],
      [`${key128}*`, true],
      ['a*b', false],
      ['*', false],
      ['a**', false],
      ['a,*', false],
      [' *', false],
      ['a,,b', false],
      ['a,', false],
      [',a', false],
      ['', false],
      [`${key128}k`, false],
      ['eks:cluster-name;x', false],
    ])('%j: allowed %s', (value, expected) => {
      expect(pattern(value)).toBe(expected);
      // Whatever CloudFormation lets through, the rule accepts.
      if (expected) expect(parserAccepts({ NodeTagKeys: value })).toBe(true);
    });

    it('accepts exactly what the parser accepts, apart from empty or blank entries (every string of "a", "*", "," and " " up to 7 characters)', () => {
      const alphabet = ['a', '*', ',', ' '];
      const mismatches: string[] = [];
      let strings = [''];
      for (let length = 1; length <= 7; length++) {
        strings = strings.flatMap((s) => alphabet.map((c) => s + c));
        for (const value of strings) {
          const byPattern = pattern(value);
          const byParser = parserAccepts({ NodeTagKeys: value });
          // The parser drops empty entries ("a,,b"); CloudFormation refuses them, which is stricter and fine.
          const blankEntry = value.split(',').some((entry) => entry.trim() === '');
          if (byPattern ? !byParser : byParser && !blankEntry) mismatches.push(JSON.stringify(value));
        }
      }
      expect(mismatches).toEqual([]);
    });
  });

  describe('ExemptionTagKey', () => {
    const pattern = allowed('ExemptionTagKey');

    it.each([
      ['imds-guard/exempt', true],
      ['imds-guard:exempt', true],
      ['security keep imds', true],
      ['k'.repeat(128), true],
      ['k'.repeat(129), false],
      [' ', false],
      [' imds-guard:exempt', false],
      ['imds-guard:exempt ', false],
      ['imds-guard:*', false],
      ['', false],
    ])('%j: allowed %s', (value, expected) => {
      expect(pattern(value)).toBe(expected);
      // What CloudFormation lets through, the rule accepts unchanged (untrimmed), so the IAM guard
      // (aws:ResourceTag/<key>) and the code look at the same key.
      if (expected) {
        expect(parserAccepts({ ExemptionTagKey: value })).toBe(true);
        expect(parseRuleParameters({ ExemptionTagKey: value }).exemptionTagKey).toBe(value);
      }
    });
  });
});
