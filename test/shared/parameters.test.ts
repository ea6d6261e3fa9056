import { describe, expect, it } from 'vitest';
import { InvalidParametersError } from '../../functions/shared/errors.ts';
import {
  DEFAULT_NODE_TAG_KEYS,
  formatRuleParameters,
  parseRuleParameters,
  RULE_PARAMETER_NAMES,
} from '../../functions/shared/parameters.ts';

function problemsOf(raw: unknown): readonly string[] {
  try {
    parseRuleParameters(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidParametersError);
    return (error as InvalidParametersError).problems;
  }
  throw new Error('expected InvalidParametersError');
}

describe('parseRuleParameters', () => {
  it.each([undefined, null, '', '{}'])('gives the defaults for %j', (raw) => {
    expect(parseRuleParameters(raw)).toEqual({
      minHopLimit: 2,
      maxHopLimit: undefined,
      nodeTagKeys: DEFAULT_NODE_TAG_KEYS.map((k) => (k.endsWith('*') ? { key: k.slice(0, -1), prefix: true } : { key: k, prefix: false })),
      clusterNames: [],
      exemptionTagKey: 'imds-guard/exempt',
      exemptionMaxDays: 90,
      requireHttpEndpoint: true,
      requireInstanceProfile: true,
    });
  });

  it('reads every parameter from the JSON string AWS Config sends', () => {
    const params = parseRuleParameters(
      JSON.stringify({
        MinHopLimit: '3',
        MaxHopLimit: '3',
        NodeTagKeys: ' eks:cluster-name , team/eks-* ',
        ClusterNames: 'prod, staging',
        ExemptionTagKey: 'security/imds-exempt',
        ExemptionMaxDays: '30',
        RequireHttpEndpoint: 'FALSE',
        RequireInstanceProfile: 'false',
      }),
    );
    expect(params).toEqual({
      minHopLimit: 3,
      maxHopLimit: 3,
      nodeTagKeys: [
        { key: 'eks:cluster-name', prefix: false },
        { key: 'team/eks-', prefix: true },
      ],
      clusterNames: ['prod', 'staging'],
      exemptionTagKey: 'security/imds-exempt',
      exemptionMaxDays: 30,
      requireHttpEndpoint: false,
      requireInstanceProfile: false,
    });
  });

  it('accepts an already parsed object and treats an empty optional as unset', () => {
    expect(parseRuleParameters({ MinHopLimit: '64', MaxHopLimit: '', ClusterNames: '' })).toMatchObject({
      minHopLimit: 64,
      maxHopLimit: undefined,
      clusterNames: [],
    });
  });

  it('round-trips through formatRuleParameters', () => {
    const params = parseRuleParameters({ MinHopLimit: '2', MaxHopLimit: '4', ClusterNames: 'a,b', NodeTagKeys: 'x,y/*' });
    expect(parseRuleParameters(formatRuleParameters(params))).toEqual(params);
    expect(Object.keys(formatRuleParameters(params))).toEqual([...RULE_PARAMETER_NAMES]);
  });

  it.each([
    [{ MinHopLimit: '0' }, 'MinHopLimit must be an integer from 1 to 64, got "0"'],
    [{ MinHopLimit: '65' }, 'MinHopLimit must be an integer from 1 to 64, got "65"'],
    [{ MinHopLimit: 'two' }, 'MinHopLimit must be an integer from 1 to 64, got "two"'],
    [{ MinHopLimit: '2.5' }, 'MinHopLimit must be an integer from 1 to 64, got "2.5"'],
    [{ MaxHopLimit: '-1' }, 'MaxHopLimit must be an integer from 1 to 64, got "-1"'],
    [{ MinHopLimit: '4', MaxHopLimit: '3' }, 'MaxHopLimit must be >= MinHopLimit (4), got 3'],
    [{ RequireHttpEndpoint: 'yes' }, 'RequireHttpEndpoint must be "true" or "false", got "yes"'],
    [{ RequireInstanceProfile: '1' }, 'RequireInstanceProfile must be "true" or "false", got "1"'],
    [{ NodeTagKeys: ' , ' }, 'NodeTagKeys must list at least one tag key'],
    [{ NodeTagKeys: 'a*b' }, 'NodeTagKeys entry "a*b" is not a tag key or a prefix ending in "*"'],
    [{ NodeTagKeys: '*' }, 'NodeTagKeys entry "*" is not a tag key or a prefix ending in "*"'],
    [{ ClusterNames: 'prod,-bad' }, 'ClusterNames entry "-bad" is not an EKS cluster name'],
    [{ ExemptionTagKey: '' }, 'ExemptionTagKey "" is not a valid tag key'],
    [{ ExemptionMaxDays: '0' }, 'ExemptionMaxDays must be an integer from 1 to 365, got "0"'],
    [{ ExemptionMaxDays: '366' }, 'ExemptionMaxDays must be an integer from 1 to 365, got "366"'],
    [{ ExemptionMaxDays: '90d' }, 'ExemptionMaxDays must be an integer from 1 to 365, got "90d"'],
    [{ MinHopLimit: ['2'] }, 'MinHopLimit must be a string, got an array'],
    [{ MinHopLimt: '2' }, 'unknown parameter "MinHopLimt" (allowed: MinHopLimit, MaxHopLimit, NodeTagKeys, ClusterNames, ExemptionTagKey, ExemptionMaxDays, RequireHttpEndpoint, RequireInstanceProfile)'],
  ])('refuses %j', (raw, message) => {
    const problems = problemsOf(raw);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(message);
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({ MinHopLimit: '0', RequireHttpEndpoint: 'maybe', Extra: 'x' });
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/Extra[\s\S]*MinHopLimit[\s\S]*RequireHttpEndpoint/);
  });

  it.each([
    ['{not json', 'ruleParameters is not valid JSON'],
    ['[1,2]', 'ruleParameters must be a JSON object of strings, got an array'],
    ['"2"', 'ruleParameters must be a JSON object of strings, got string "2"'],
  ])('refuses ruleParameters %s', (raw, message) => {
    expect(problemsOf(raw)[0]).toContain(message);
  });
});
