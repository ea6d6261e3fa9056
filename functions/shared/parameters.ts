import { InvalidParametersError } from './errors.ts';

/** Every InputParameters key the rule accepts. The templates pass exactly these. */
export const RULE_PARAMETER_NAMES = [
  'MinHopLimit',
  'MaxHopLimit',
  'NodeTagKeys',
  'ClusterNames',
  'ExemptionTagKey',
  'ExemptionMaxDays',
  'RequireHttpEndpoint',
  'RequireInstanceProfile',
] as const;

export type RuleParameterName = (typeof RULE_PARAMETER_NAMES)[number];

/**
 * Tag keys that mark an instance as an EKS node: managed node groups, Karpenter and Auto Mode,
 * the AWS-generated key, the Kubernetes cloud-provider key (any cluster), and eksctl.
 */
export const DEFAULT_NODE_TAG_KEYS = [
  'eks:cluster-name',
  'eks:nodegroup-name',
  'eks:eks-cluster-name',
  'aws:eks:cluster-name',
  'kubernetes.io/cluster/*',
  'karpenter.sh/nodepool',
  'alpha.eksctl.io/cluster-name',
] as const;

/** A tag key to look for: exact, or a prefix when written with a trailing `*`. */
export interface TagKeyPattern {
  readonly key: string;
  readonly prefix: boolean;
}

export interface RuleParameters {
  readonly minHopLimit: number;
  /** Undefined when no upper bound is enforced. */
  readonly maxHopLimit: number | undefined;
  readonly nodeTagKeys: readonly TagKeyPattern[];
  /** Empty means every cluster. */
  readonly clusterNames: readonly string[];
  readonly exemptionTagKey: string;
  /** An exemption whose expiry is further away than this many days is ignored. */
  readonly exemptionMaxDays: number;
  readonly requireHttpEndpoint: boolean;
  readonly requireInstanceProfile: boolean;
}

const HOP_LIMIT_RANGE = { min: 1, max: 64 } as const;
// A year at most: an exemption is a dated promise to fix, renewed on purpose, not a permanent opt-out.
const EXEMPTION_MAX_DAYS_RANGE = { min: 1, max: 365 } as const;

const DEFAULTS = {
  MinHopLimit: '2',
  MaxHopLimit: '',
  NodeTagKeys: DEFAULT_NODE_TAG_KEYS.join(','),
  ClusterNames: '',
  ExemptionTagKey: 'imds-guard/exempt',
  ExemptionMaxDays: '90',
  RequireHttpEndpoint: 'true',
  RequireInstanceProfile: 'true',
} as const satisfies Record<RuleParameterName, string>;

// EC2 tag keys: up to 128 characters; `aws:` keys are AWS-generated but may be read.
const TAG_KEY_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
// EKS cluster names: 1-100 characters, alphanumerics, hyphens and underscores, starting alphanumeric.
const CLUSTER_NAME_PATTERN = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/;

/** The defaults, as the rule sees them when InputParameters is empty. */
export const DEFAULT_RULE_PARAMETER_VALUES: Readonly<Record<RuleParameterName, string>> = DEFAULTS;

/**
 * Parses AWS Config `ruleParameters` (a JSON string of string values, or the parsed object).
 * Every problem is collected and thrown together as one InvalidParametersError.
 */
export function parseRuleParameters(raw: unknown): RuleParameters {
  const record = toRecord(raw);
  const problems: string[] = [];

  for (const key of Object.keys(record)) {
    if (!(RULE_PARAMETER_NAMES as readonly string[]).includes(key)) {
      problems.push(`unknown parameter "${key}" (allowed: ${RULE_PARAMETER_NAMES.join(', ')})`);
    }
  }

  const value = (name: RuleParameterName): string => {
    const given = record[name];
    if (given === undefined || given === null) return DEFAULTS[name];
    if (typeof given === 'number' || typeof given === 'boolean') return String(given);
    if (typeof given !== 'string') {
      problems.push(`${name} must be a string, got ${describeType(given)}`);
      return DEFAULTS[name];
    }
    return given.trim();
  };

  const minHopLimit = parseHopLimit('MinHopLimit', value('MinHopLimit') || DEFAULTS.MinHopLimit, problems);
  const maxRaw = value('MaxHopLimit');
  const maxHopLimit = maxRaw === '' ? undefined : parseHopLimit('MaxHopLimit', maxRaw, problems);
  if (minHopLimit !== undefined && maxHopLimit !== undefined && maxHopLimit < minHopLimit) {
    problems.push(`MaxHopLimit must be >= MinHopLimit (${minHopLimit}), got ${maxHopLimit}`);
  }

  const nodeTagKeys = parseTagKeys(value('NodeTagKeys'), problems);
  const clusterNames = splitList(value('ClusterNames'));
  for (const name of clusterNames) {
    if (!CLUSTER_NAME_PATTERN.test(name)) {
      problems.push(
        `ClusterNames entry "${name}" is not an EKS cluster name (1-100 characters: letters, digits, "-", "_", starting with a letter or digit)`,
      );
    }
  }

  const exemptionTagKey = value('ExemptionTagKey');
  if (!TAG_KEY_PATTERN.test(exemptionTagKey)) {
    problems.push(
      `ExemptionTagKey "${exemptionTagKey}" is not a valid tag key (1-128 characters: letters, digits, spaces and _ . : / = + - @)`,
    );
  }

  const exemptionMaxDays = parseInteger(
    'ExemptionMaxDays',
    value('ExemptionMaxDays') || DEFAULTS.ExemptionMaxDays,
    EXEMPTION_MAX_DAYS_RANGE,
    problems,
  );

  const requireHttpEndpoint = parseBoolean('RequireHttpEndpoint', value('RequireHttpEndpoint'), problems);
  const requireInstanceProfile = parseBoolean('RequireInstanceProfile', value('RequireInstanceProfile'), problems);

  if (problems.length > 0 || minHopLimit === undefined || exemptionMaxDays === undefined) {
    throw new InvalidParametersError(problems);
  }
  return {
    minHopLimit,
    maxHopLimit,
    nodeTagKeys,
    clusterNames,
    exemptionTagKey,
    exemptionMaxDays,
    requireHttpEndpoint: requireHttpEndpoint ?? true,
    requireInstanceProfile: requireInstanceProfile ?? true,
  };
}

function toRecord(raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null || raw === '') return {};
  let parsed: unknown = raw;
  if (typeof raw === 'string') {
    try {
      parsed = JSON.parse(raw);
    } catch (error) {
      throw new InvalidParametersError([
        `ruleParameters is not valid JSON (${(error as Error).message}); expected an object such as {"MinHopLimit":"2"}`,
      ]);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidParametersError([
      `ruleParameters must be a JSON object of strings, got ${describeType(parsed)}`,
    ]);
  }
  return parsed as Record<string, unknown>;
}

function parseHopLimit(name: RuleParameterName, raw: string, problems: string[]): number | undefined {
  return parseInteger(name, raw, HOP_LIMIT_RANGE, problems);
}

function parseInteger(
  name: RuleParameterName,
  raw: string,
  { min, max }: { readonly min: number; readonly max: number },
  problems: string[],
): number | undefined {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
    return undefined;
  }
  return Number(raw);
}

function parseBoolean(name: RuleParameterName, raw: string, problems: string[]): boolean | undefined {
  const lower = raw.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  problems.push(`${name} must be "true" or "false", got "${raw}"`);
  return undefined;
}

function parseTagKeys(raw: string, problems: string[]): TagKeyPattern[] {
  const entries = splitList(raw);
  if (entries.length === 0) {
    problems.push(`NodeTagKeys must list at least one tag key (default: ${DEFAULTS.NodeTagKeys})`);
    return [];
  }
  const patterns: TagKeyPattern[] = [];
  for (const entry of entries) {
    const prefix = entry.endsWith('*');
    const key = prefix ? entry.slice(0, -1) : entry;
    if (key.length === 0 || !TAG_KEY_PATTERN.test(key) || key.includes('*')) {
      problems.push(
        `NodeTagKeys entry "${entry}" is not a tag key or a prefix ending in "*" (1-128 characters: letters, digits, spaces and _ . : / = + - @)`,
      );
      continue;
    }
    patterns.push({ key, prefix });
  }
  return patterns;
}

function splitList(raw: string): string[] {
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

/** Renders parameters back into InputParameters form (the scan CLI's JSON report). */
export function formatRuleParameters(params: RuleParameters): Record<RuleParameterName, string> {
  return {
    MinHopLimit: String(params.minHopLimit),
    MaxHopLimit: params.maxHopLimit === undefined ? '' : String(params.maxHopLimit),
    NodeTagKeys: params.nodeTagKeys.map((p) => (p.prefix ? `${p.key}*` : p.key)).join(','),
    ClusterNames: params.clusterNames.join(','),
    ExemptionTagKey: params.exemptionTagKey,
    ExemptionMaxDays: String(params.exemptionMaxDays),
    RequireHttpEndpoint: String(params.requireHttpEndpoint),
    RequireInstanceProfile: String(params.requireInstanceProfile),
  };
}
