// Every template is checked against the CloudFormation resource specification
// (@aws-cdk/aws-service-spec, which also carries the long-standing AWS::Serverless::* types).
import { loadAwsServiceSpec } from '@aws-cdk/aws-service-spec';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  TEMPLATE_FILES,
  intrinsicName,
  isObject,
  loadTemplate,
  resources,
  section,
  subReferences,
  walk,
} from './templates.ts';
import type { Json, JsonObject, TemplateName } from './templates.ts';

type SpecDatabase = Awaited<ReturnType<typeof loadAwsServiceSpec>>;

// The spec's property types, structurally (see @aws-cdk/service-spec-types common.d.ts).
type SpecType =
  | { type: 'string' | 'number' | 'integer' | 'boolean' | 'json' | 'date-time' | 'null' | 'tag' }
  | { type: 'ref'; reference: { $ref: string } }
  | { type: 'array' | 'map'; element: SpecType }
  | { type: 'union'; types: SpecType[] };

interface SpecProperty {
  readonly type: SpecType;
  readonly required?: boolean;
}

/**
 * Properties the spec does not know yet, each validated as the CloudFormation property that
 * SAM passes it through to (sam.schema.json marks them `__samPassThrough`).
 */
const SPEC_LAG: Record<string, Record<string, { readonly as: readonly [string, string]; readonly reason: string }>> = {
  'AWS::Serverless::Function': {
    LoggingConfig: {
      as: ['AWS::Lambda::Function', 'LoggingConfig'],
      reason: 'SAM 1.81+ passes LoggingConfig straight to AWS::Lambda::Function; the SAM types in the spec predate it',
    },
  },
};

const RESOURCE_ATTRIBUTES = new Set([
  'Type',
  'Properties',
  'Condition',
  'DependsOn',
  'Metadata',
  'DeletionPolicy',
  'UpdateReplacePolicy',
  'CreationPolicy',
  'UpdatePolicy',
]);

const PSEUDO_PARAMETERS = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);

const TEMPLATES = Object.keys(TEMPLATE_FILES) as TemplateName[];

// The functions CloudFormation accepts in a rule's RuleCondition and Assert (rule functions).
const RULE_FUNCTIONS = new Set([
  'Ref',
  'Fn::And',
  'Fn::Contains',
  'Fn::EachMemberEquals',
  'Fn::EachMemberIn',
  'Fn::Equals',
  'Fn::Not',
  'Fn::Or',
  'Fn::RefAll',
  'Fn::ValueOf',
  'Fn::ValueOfAll',
]);
const RULE_KEYS = new Set(['RuleCondition', 'Assertions']);
const ASSERTION_KEYS = new Set(['Assert', 'AssertDescription']);

/** Problems with a template's `Rules` section: shape, functions, and what they reference. */
function ruleProblems(template: JsonObject): string[] {
  const parameters = section(template, 'Parameters');
  const problems: string[] = [];
  const checkExpression = (expression: Json | undefined, path: string) => {
    if (!isObject(expression) || Object.keys(expression).length !== 1) {
      problems.push(`${path}: must be a single rule function`);
      return;
    }
    walk(expression, (node, at) => {
      if (!isObject(node)) return;
      const keys = Object.keys(node);
      const fn = keys.length === 1 && (keys[0]!.startsWith('Fn::') || keys[0] === 'Ref' || keys[0] === 'Condition') ? keys[0]! : undefined;
      if (fn === undefined) return;
      const where = `${path}${at ? `.${at}` : ''}`;
      if (!RULE_FUNCTIONS.has(fn)) problems.push(`${where}: ${fn} is not a rule function`);
      const arg = node[fn];
      if (fn === 'Ref' && !(String(arg) in parameters) && !PSEUDO_PARAMETERS.has(String(arg))) {
        problems.push(`${where}: rules may only Ref parameters and pseudo parameters, not ${String(arg)}`);
      }
      if ((fn === 'Fn::And' || fn === 'Fn::Or') && (!Array.isArray(arg) || arg.length < 2 || arg.length > 10)) {
        problems.push(`${where}: ${fn} takes 2 to 10 conditions`);
      }
      if (['Fn::Equals', 'Fn::Contains', 'Fn::EachMemberEquals', 'Fn::EachMemberIn'].includes(fn) && (!Array.isArray(arg) || arg.length !== 2)) {
        problems.push(`${where}: ${fn} takes 2 arguments`);
      }
    });
  };
  for (const [id, rule] of Object.entries(section(template, 'Rules'))) {
    if (!isObject(rule)) {
      problems.push(`Rules.${id}: not a mapping`);
      continue;
    }
    for (const key of Object.keys(rule)) if (!RULE_KEYS.has(key)) problems.push(`Rules.${id}: unknown key ${key}`);
    if (rule['RuleCondition'] !== undefined) checkExpression(rule['RuleCondition'], `Rules.${id}.RuleCondition`);
    const assertions = rule['Assertions'];
    if (!Array.isArray(assertions) || assertions.length === 0) {
      problems.push(`Rules.${id}: Assertions must be a non-empty list`);
      continue;
    }
    assertions.forEach((assertion, i) => {
      const path = `Rules.${id}.Assertions[${i}]`;
      if (!isObject(assertion)) return problems.push(`${path}: not a mapping`);
      for (const key of Object.keys(assertion)) if (!ASSERTION_KEYS.has(key)) problems.push(`${path}: unknown key ${key}`);
      const description = assertion['AssertDescription'];
      if (typeof description !== 'string' || description.trim() === '') problems.push(`${path}: needs an AssertDescription`);
      checkExpression(assertion['Assert'], `${path}.Assert`);
      return 0;
    });
  }
  return problems;
}

let db: SpecDatabase;

beforeAll(async () => {
  db = await loadAwsServiceSpec();
});

function specResource(type: string) {
  const found = db.lookup('resource', 'cloudFormationType', 'equals', type);
  return found.length === 1 ? found[0] : undefined;
}

function specProperty(type: string, property: string): SpecProperty | undefined {
  return specResource(type)?.properties[property] as SpecProperty | undefined;
}

function definitionProperties(ref: string): Record<string, SpecProperty> {
  return db.get('typeDefinition', ref).properties as Record<string, SpecProperty>;
}

function isNumeric(value: unknown): boolean {
  return typeof value === 'number' || (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)));
}

/** Checks a value against a spec type; returns the problems (empty when it fits). */
function check(value: Json, type: SpecType, path: string): string[] {
  const fn = intrinsicName(value);
  if (fn !== undefined && isObject(value)) {
    // A conditional value must fit in both branches; other intrinsics resolve at deploy time.
    if (fn === 'Fn::If') {
      const [, yes, no] = value[fn] as Json[];
      return [yes, no].flatMap((branch, i) =>
        branch === undefined || intrinsicName(branch) === 'Ref' && (branch as JsonObject)['Ref'] === 'AWS::NoValue'
          ? []
          : check(branch, type, `${path}<if:${i === 0 ? 'true' : 'false'}>`),
      );
    }
    return [];
  }
  switch (type.type) {
    case 'string':
    case 'date-time':
      return ['string', 'number', 'boolean'].includes(typeof value) ? [] : [`${path}: expected a string`];
    case 'number':
    case 'integer':
      return isNumeric(value) ? [] : [`${path}: expected a number`];
    case 'boolean':
      return typeof value === 'boolean' || value === 'true' || value === 'false' ? [] : [`${path}: expected a boolean`];
    case 'json':
      return isObject(value) || Array.isArray(value) ? [] : [`${path}: expected a JSON object`];
    case 'null':
      return value === null ? [] : [`${path}: expected null`];
    case 'tag':
      return isObject(value) && 'Key' in value && 'Value' in value ? [] : [`${path}: expected a tag`];
    case 'array':
      return Array.isArray(value)
        ? value.flatMap((item, i) => check(item, type.element, `${path}[${i}]`))
        : [`${path}: expected a list`];
    case 'map':
      return isObject(value)
        ? Object.entries(value).flatMap(([k, v]) => check(v, type.element, `${path}.${k}`))
        : [`${path}: expected a map`];
    case 'union': {
      const attempts = type.types.map((t) => check(value, t, path));
      return attempts.some((problems) => problems.length === 0) ? [] : attempts.flat();
    }
    case 'ref':
      return isObject(value)
        ? checkObject(value, definitionProperties(type.reference.$ref), path)
        : [`${path}: expected an object`];
  }
}

function checkObject(value: JsonObject, properties: Record<string, SpecProperty>, path: string): string[] {
  const problems: string[] = [];
  for (const [name, property] of Object.entries(properties)) {
    if (property.required && !(name in value)) problems.push(`${path}.${name}: required property missing`);
  }
  for (const [name, child] of Object.entries(value)) {
    const property = properties[name];
    if (!property) problems.push(`${path}.${name}: not a property of this type`);
    else problems.push(...check(child, property.type, `${path}.${name}`));
  }
  return problems;
}

function checkResource(id: string, type: string, properties: JsonObject): string[] {
  const spec = specResource(type);
  if (!spec) return [`${id}: unknown resource type ${type}`];
  const lag = SPEC_LAG[type] ?? {};
  const known = spec.properties as Record<string, SpecProperty>;
  const problems: string[] = [];
  for (const [name, property] of Object.entries(known)) {
    if (property.required && !(name in properties)) problems.push(`${id}.${name}: required property missing`);
  }
  for (const [name, value] of Object.entries(properties)) {
    const property = known[name];
    const lagging = lag[name];
    if (property) problems.push(...check(value, property.type, `${id}.${name}`));
    else if (lagging) {
      const target = specProperty(...lagging.as);
      if (!target) problems.push(`${id}.${name}: spec-lag target ${lagging.as.join('.')} not found`);
      else problems.push(...check(value, target.type, `${id}.${name}`));
    } else problems.push(`${id}.${name}: not a property of ${type}`);
  }
  return problems;
}

function attributeNames(type: string): Set<string> | undefined {
  // SAM functions become AWS::Lambda::Function resources with the same logical id.
  const spec = specResource(type === 'AWS::Serverless::Function' ? 'AWS::Lambda::Function' : type);
  return spec ? new Set(Object.keys(spec.attributes)) : undefined;
}

describe.each(TEMPLATES)('%s', (name) => {
  const template = loadTemplate(name);
  const parameters = section(template, 'Parameters');
  const conditions = section(template, 'Conditions');
  const declared = resources(template);

  it('parses, with resources', () => {
    expect(Object.keys(declared).length).toBeGreaterThan(0);
    expect(template['AWSTemplateFormatVersion']).toBe('2010-09-09');
  });

  it('uses only resource types, properties and value shapes from the CloudFormation spec', () => {
    const problems = Object.entries(declared).flatMap(([id, r]) => [
      ...Object.keys(r).filter((k) => !RESOURCE_ATTRIBUTES.has(k)).map((k) => `${id}: unknown resource attribute ${k}`),
      ...checkResource(id, r.Type, r.Properties ?? {}),
    ]);
    expect(problems).toEqual([]);
  });

  it('references only parameters, resources, attributes and pseudo parameters that exist', () => {
    const problems: string[] = [];
    const known = (target: string) => target in parameters || target in declared || PSEUDO_PARAMETERS.has(target);
    const checkGetAtt = (id: string, attr: string, path: string) => {
      const target = declared[id];
      if (!target) return problems.push(`${path}: GetAtt of unknown resource ${id}`);
      const attrs = attributeNames(target.Type);
      if (attrs && !attrs.has(attr)) problems.push(`${path}: ${target.Type} has no attribute ${attr}`);
      return 0;
    };
    walk(template, (node, path) => {
      const fn = intrinsicName(node);
      if (!fn || !isObject(node)) return;
      const arg = node[fn];
      if (fn === 'Ref' && !known(String(arg))) problems.push(`${path}: Ref to unknown ${String(arg)}`);
      if (fn === 'Fn::GetAtt') {
        const [id, attr] = Array.isArray(arg) ? arg.map(String) : String(arg).split('.');
        checkGetAtt(id!, attr!, path);
      }
      if (fn === 'Fn::Sub') {
        const [text, vars] = Array.isArray(arg) ? [String(arg[0]), (arg[1] ?? {}) as JsonObject] : [String(arg), {}];
        for (const ref of subReferences(text)) {
          if (ref in vars) continue;
          const dot = ref.indexOf('.');
          if (dot < 0 || ref.startsWith('AWS::')) {
            if (!known(ref)) problems.push(`${path}: \${${ref}} is not defined`);
          } else checkGetAtt(ref.slice(0, dot), ref.slice(dot + 1), path);
        }
      }
      if ((fn === 'Condition' || fn === 'Fn::If') && !(String(Array.isArray(arg) ? arg[0] : arg) in conditions)) {
        problems.push(`${path}: condition ${String(Array.isArray(arg) ? arg[0] : arg)} is not defined`);
      }
    });
    for (const [id, r] of Object.entries(declared)) {
      if (r.Condition !== undefined && !(r.Condition in conditions)) problems.push(`${id}: condition ${r.Condition} is not defined`);
      const dependsOn = r.DependsOn === undefined ? [] : [r.DependsOn].flat();
      for (const dep of dependsOn) if (!(dep in declared)) problems.push(`${id}: DependsOn unknown ${dep}`);
    }
    for (const [id, output] of Object.entries(section(template, 'Outputs'))) {
      const cond = isObject(output) ? output['Condition'] : undefined;
      if (cond !== undefined && !(String(cond) in conditions)) problems.push(`Outputs.${id}: condition ${String(cond)} is not defined`);
    }
    expect(problems).toEqual([]);
  });

  it('declares only well-formed Rules that use rule functions on parameters', () => {
    expect(ruleProblems(template)).toEqual([]);
  });

  it('gives every parameter a description, and every constrained parameter a default that satisfies it', () => {
    const problems: string[] = [];
    for (const [id, definition] of Object.entries(parameters)) {
      if (!isObject(definition)) continue;
      if (typeof definition['Description'] !== 'string') problems.push(`${id}: no Description`);
      const fallback = definition['Default'];
      if (fallback === undefined) continue;
      const allowed = definition['AllowedValues'];
      if (Array.isArray(allowed) && !allowed.map(String).includes(String(fallback))) problems.push(`${id}: default not allowed`);
      const pattern = definition['AllowedPattern'];
      // CloudFormation's patterns are Java regexes; these use nothing JavaScript reads differently.
      if (typeof pattern === 'string' && !new RegExp(`^(?:${pattern})$`, 'u').test(String(fallback))) {
        problems.push(`${id}: default ${JSON.stringify(fallback)} does not match ${pattern}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('Rules validation', () => {
  it('catches what CloudFormation would refuse', () => {
    const bad = {
      Parameters: { Regions: { Type: 'CommaDelimitedList' } },
      Resources: { Topic: { Type: 'AWS::SNS::Topic' } },
      Rules: {
        NoAssertions: { RuleCondition: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'eu-west-1'] } },
        Bad: {
          Assertions: [
            { Assert: { 'Fn::EachMemberEquals': [{ Ref: 'Regions' }, { 'Fn::Sub': '${AWS::Region}' }] }, AssertDescription: 'x' },
            { Assert: { 'Fn::Equals': [{ Ref: 'Topic' }, 'a'] } },
          ],
        },
      },
    } as JsonObject;
    expect(ruleProblems(bad)).toEqual([
      'Rules.NoAssertions: Assertions must be a non-empty list',
      'Rules.Bad.Assertions[0].Assert.Fn::EachMemberEquals[1]: Fn::Sub is not a rule function',
      'Rules.Bad.Assertions[1]: needs an AssertDescription',
      'Rules.Bad.Assertions[1].Assert.Fn::Equals[0]: rules may only Ref parameters and pseudo parameters, not Topic',
    ]);
  });
});

describe('spec-lag allow-list', () => {
  it('lists only properties the spec really lacks', () => {
    for (const [type, entries] of Object.entries(SPEC_LAG)) {
      for (const name of Object.keys(entries)) expect(specProperty(type, name), `${type}.${name}`).toBeUndefined();
    }
  });
});
