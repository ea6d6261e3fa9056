// Loading and walking the CloudFormation templates under test.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/build.ts';
import { parseTemplate } from './cfn-yaml.ts';
import type { Json, JsonObject } from './cfn-yaml.ts';

export type { Json, JsonObject };

export const TEMPLATE_FILES = {
  sam: 'template.yaml',
  member: 'infra/member-account.yaml',
  organization: 'infra/organization.yaml',
  artifactBucket: 'infra/artifact-bucket.yaml',
} as const;

export type TemplateName = keyof typeof TEMPLATE_FILES;

/** The parameters infra/organization.yaml has no default for, with valid values. */
export const ORGANIZATION_REQUIRED_PARAMETERS = {
  TemplateURL: 'https://artifacts-us-east-1.s3.us-east-1.amazonaws.com/eks-imds-guard/1.0.0/member-account.yaml',
  TargetOrganizationalUnitIds: 'ou-abcd-12345678',
  TargetRegions: 'us-east-1',
  ArtifactBucketPrefix: 'artifacts',
  ArtifactBucketOwner: '444455556666',
  EvaluateCodeSha256: 'a'.repeat(64),
  EvaluateSourcesCodeSha256: 'c'.repeat(64),
  RemediateCodeSha256: 'b'.repeat(64),
} as const;

/** What a member stack needs to find its code: the organization template passes exactly these. */
export const MEMBER_ARTIFACT_PARAMETERS = {
  ArtifactBucketPrefix: ORGANIZATION_REQUIRED_PARAMETERS.ArtifactBucketPrefix,
  ArtifactBucketOwner: ORGANIZATION_REQUIRED_PARAMETERS.ArtifactBucketOwner,
  EvaluateCodeSha256: ORGANIZATION_REQUIRED_PARAMETERS.EvaluateCodeSha256,
  EvaluateSourcesCodeSha256: ORGANIZATION_REQUIRED_PARAMETERS.EvaluateSourcesCodeSha256,
  RemediateCodeSha256: ORGANIZATION_REQUIRED_PARAMETERS.RemediateCodeSha256,
} as const;

export function loadTemplate(name: TemplateName): JsonObject {
  return parseTemplate(readFileSync(join(REPO_ROOT, TEMPLATE_FILES[name]), 'utf8'));
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function section(template: JsonObject, name: string): JsonObject {
  const value = template[name];
  return isObject(value) ? value : {};
}

export interface Resource {
  readonly Type: string;
  readonly Properties?: JsonObject;
  readonly Condition?: string;
  readonly DependsOn?: string | string[];
  readonly Metadata?: JsonObject;
}

export function resources(template: JsonObject): Record<string, Resource> {
  return section(template, 'Resources') as unknown as Record<string, Resource>;
}

export function resource(template: JsonObject, id: string): Resource {
  const found = resources(template)[id];
  if (!found) throw new Error(`resource ${id} is missing`);
  return found;
}

export function props(template: JsonObject, id: string): JsonObject {
  return resource(template, id).Properties ?? {};
}

/** Names of intrinsic functions (and `Ref` / `Condition`) an object with a single key may be. */
export const INTRINSICS = new Set([
  'Ref',
  'Condition',
  'Fn::GetAtt',
  'Fn::Sub',
  'Fn::If',
  'Fn::Equals',
  'Fn::Not',
  'Fn::And',
  'Fn::Or',
  'Fn::Select',
  'Fn::Split',
  'Fn::Join',
  'Fn::FindInMap',
  'Fn::ImportValue',
  'Fn::Base64',
  'Fn::Cidr',
  'Fn::GetAZs',
  'Fn::Transform',
  'Fn::Length',
  'Fn::ToJsonString',
]);

export function intrinsicName(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  const keys = Object.keys(value);
  return keys.length === 1 && INTRINSICS.has(keys[0]!) ? keys[0] : undefined;
}

/** Every `${Name}` / `${Name.Attr}` in a Fn::Sub string (skipping `${!Literal}`). */
export function subReferences(text: string): string[] {
  return [...text.matchAll(/\$\{([^!}][^}]*)\}/g)].map((m) => m[1]!.trim());
}

/** Visits every node of a JSON tree with its path. */
export function walk(value: Json | undefined, visit: (node: Json, path: string) => void, path = ''): void {
  if (value === undefined) return;
  visit(value, path);
  if (Array.isArray(value)) value.forEach((item, i) => walk(item, visit, `${path}[${i}]`));
  else if (isObject(value)) for (const [k, v] of Object.entries(value)) walk(v, visit, path ? `${path}.${k}` : k);
}

export interface Scenario {
  readonly parameters: Readonly<Record<string, string>>;
}

/**
 * Evaluates a template value the way CloudFormation would for the given parameter values:
 * Ref of parameters and pseudo parameters, Fn::If / conditions, Fn::Sub, Fn::Join, AWS::NoValue.
 * Resource references become placeholders such as `<NotificationTopic>` / `<Queue.Arn>`.
 */
export class Evaluator {
  private readonly conditionCache = new Map<string, boolean>();
  private readonly template: JsonObject;
  private readonly parameterValues: Readonly<Record<string, string>>;
  private readonly pseudo: Readonly<Record<string, string>>;

  constructor(
    template: JsonObject,
    parameterValues: Readonly<Record<string, string>> = {},
    pseudoParameters: Readonly<Record<string, string>> = {},
  ) {
    this.template = template;
    this.parameterValues = parameterValues;
    this.pseudo = { ...Evaluator.PSEUDO_DEFAULTS, ...pseudoParameters };
  }

  static readonly PSEUDO_DEFAULTS: Readonly<Record<string, string>> = {
    'AWS::Partition': 'aws',
    'AWS::Region': 'eu-west-1',
    'AWS::AccountId': '111122223333',
    'AWS::StackName': 'eks-imds-guard',
    'AWS::URLSuffix': 'amazonaws.com',
  };

  static readonly NO_VALUE = Symbol('AWS::NoValue');

  parameter(name: string): string {
    const given = this.parameterValues[name];
    if (given !== undefined) return given;
    const definition = section(this.template, 'Parameters')[name];
    if (!isObject(definition)) throw new Error(`unknown parameter ${name}`);
    const fallback = definition['Default'];
    if (fallback === undefined) throw new Error(`parameter ${name} has no default and no value`);
    return String(fallback);
  }

  condition(name: string): boolean {
    const cached = this.conditionCache.get(name);
    if (cached !== undefined) return cached;
    const definition = section(this.template, 'Conditions')[name];
    if (definition === undefined) throw new Error(`unknown condition ${name}`);
    const result = this.truth(definition);
    this.conditionCache.set(name, result);
    return result;
  }

  private truth(node: Json): boolean {
    if (!isObject(node)) throw new Error(`not a condition: ${JSON.stringify(node)}`);
    const [fn, arg] = Object.entries(node)[0]!;
    const args = Array.isArray(arg) ? arg : [arg];
    switch (fn) {
      case 'Condition':
        return this.condition(String(arg));
      case 'Fn::Equals':
        return String(this.value(args[0]!)) === String(this.value(args[1]!));
      case 'Fn::Not':
        return !this.truth(args[0]!);
      case 'Fn::And':
        return args.every((a) => this.truth(a));
      case 'Fn::Or':
        return args.some((a) => this.truth(a));
      default:
        throw new Error(`unsupported condition function ${fn}`);
    }
  }

  private ref(name: string): string {
    if (name.startsWith('AWS::')) {
      const value = this.pseudo[name];
      if (value === undefined) throw new Error(`unsupported pseudo parameter ${name}`);
      return value;
    }
    if (name in section(this.template, 'Parameters')) return this.parameter(name);
    if (name in resources(this.template)) return `<${name}>`;
    throw new Error(`unknown reference ${name}`);
  }

  /** Resolves a value; AWS::NoValue entries vanish from lists and maps. */
  value(node: Json): Json | typeof Evaluator.NO_VALUE {
    const fn = intrinsicName(node);
    if (fn && isObject(node)) {
      const arg = node[fn]!;
      switch (fn) {
        case 'Ref':
          return arg === 'AWS::NoValue' ? Evaluator.NO_VALUE : this.ref(String(arg));
        case 'Fn::GetAtt': {
          const [id, attr] = Array.isArray(arg) ? arg : String(arg).split('.');
          return `<${String(id)}.${String(attr)}>`;
        }
        case 'Fn::If': {
          const [cond, yes, no] = arg as Json[];
          return this.value(this.condition(String(cond)) ? yes! : no!);
        }
        case 'Fn::Sub': {
          const [text, vars] = Array.isArray(arg) ? [String(arg[0]), (arg[1] ?? {}) as JsonObject] : [String(arg), {}];
          return text.replace(/\$\{([^}]*)\}/g, (whole, inner: string) => {
            if (inner.startsWith('!')) return `\${${inner.slice(1)}}`;
            if (inner in vars) return String(this.value(vars[inner]!));
            if (inner.includes('.')) {
              const [id, attr] = inner.split('.');
              return `<${id}.${attr}>`;
            }
            return this.ref(inner);
          });
        }
        case 'Fn::Split': {
          const [sep, text] = arg as [string, Json];
          return String(this.value(text)).split(sep);
        }
        case 'Fn::Join': {
          const [sep, items] = arg as [string, Json[]];
          return (this.value(items) as Json[]).map(String).join(sep);
        }
        default:
          throw new Error(`unsupported function ${fn}`);
      }
    }
    if (Array.isArray(node)) {
      return node.map((item) => this.value(item)).filter((v): v is Json => v !== Evaluator.NO_VALUE);
    }
    if (isObject(node)) {
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(node)) {
        const resolved = this.value(v);
        if (resolved !== Evaluator.NO_VALUE) out[k] = resolved;
      }
      return out;
    }
    return node;
  }

  /**
   * The assertions of a `Rules` entry that fail under these parameter values (none when its
   * RuleCondition is false). Supports the rule functions the templates use; `Ref` of a
   * CommaDelimitedList parameter is its list of values, as in CloudFormation.
   */
  failedAssertions(ruleName: string): string[] {
    const rule = section(this.template, 'Rules')[ruleName];
    if (!isObject(rule)) throw new Error(`unknown rule ${ruleName}`);
    if (rule['RuleCondition'] !== undefined && !this.ruleTruth(rule['RuleCondition'])) return [];
    const assertions = Array.isArray(rule['Assertions']) ? rule['Assertions'] : [];
    return assertions
      .filter((a) => isObject(a) && !this.ruleTruth(a['Assert']!))
      .map((a) => String((a as JsonObject)['AssertDescription'] ?? JSON.stringify(a)));
  }

  private ruleValue(node: Json): Json {
    if (isObject(node) && intrinsicName(node) === 'Ref') {
      const name = String(node['Ref']);
      const definition = section(this.template, 'Parameters')[name];
      if (isObject(definition) && definition['Type'] === 'CommaDelimitedList') {
        return this.parameter(name).split(',').map((v) => v.trim());
      }
    }
    const resolved = this.value(node);
    if (resolved === Evaluator.NO_VALUE) throw new Error('AWS::NoValue in a rule');
    return resolved;
  }

  private ruleTruth(node: Json): boolean {
    if (!isObject(node)) throw new Error(`not a rule function: ${JSON.stringify(node)}`);
    const [fn, arg] = Object.entries(node)[0]!;
    const args = (Array.isArray(arg) ? arg : [arg]) as Json[];
    const list = (value: Json) => {
      const resolved = this.ruleValue(value);
      if (!Array.isArray(resolved)) throw new Error(`${fn} needs a list, got ${JSON.stringify(resolved)}`);
      return resolved.map(String);
    };
    switch (fn) {
      case 'Fn::Equals':
        return String(this.ruleValue(args[0]!)) === String(this.ruleValue(args[1]!));
      case 'Fn::Not':
        return !this.ruleTruth(args[0]!);
      case 'Fn::And':
        return args.every((a) => this.ruleTruth(a));
      case 'Fn::Or':
        return args.some((a) => this.ruleTruth(a));
      case 'Fn::Contains':
        return list(args[0]!).includes(String(this.ruleValue(args[1]!)));
      case 'Fn::EachMemberEquals': {
        const expected = String(this.ruleValue(args[1]!));
        return list(args[0]!).every((v) => v === expected);
      }
      case 'Fn::EachMemberIn': {
        const allowed = list(args[1]!);
        return list(args[0]!).every((v) => allowed.includes(v));
      }
      default:
        throw new Error(`unsupported rule function ${fn}`);
    }
  }

  /** Whether a resource exists under these parameter values. */
  exists(id: string): boolean {
    const found = resources(this.template)[id];
    if (!found) return false;
    return found.Condition === undefined || this.condition(found.Condition);
  }
}
