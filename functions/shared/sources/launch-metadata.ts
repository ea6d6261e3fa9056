import { CHECK_LABELS, checkMetadata, targetHopLimit, type CheckResult, type MetadataCheckName } from '../metadata-checks.ts';
import type { RuleParameters } from '../parameters.ts';

/**
 * How EC2 decides the metadata options of a new instance, option by option (EC2 User Guide,
 * "Order of precedence for instance metadata options",
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-options.html#instance-metadata-options-order-of-precedence):
 *   1. the launch itself: the launch template (or launch configuration) or the launch parameters;
 *   2. the account's defaults for the region (GetInstanceMetadataDefaults), unless "no preference";
 *   3. the AMI, for HttpTokens and the hop limit only: `ImdsSupport: v2.0` means required and 2;
 *   4. otherwise EC2's own defaults: tokens optional, hop limit 1, endpoint enabled
 *      (LaunchTemplateInstanceMetadataOptionsRequest in the EC2 API Reference).
 */
export type ValueSource = 'launch template' | 'launch configuration' | 'account default' | 'AMI' | 'EC2 default';

export interface Resolved<T> {
  readonly value: T;
  readonly source: ValueSource;
}

export interface ResolvedMetadata {
  readonly httpTokens: Resolved<string>;
  readonly httpPutResponseHopLimit: Resolved<number>;
  readonly httpEndpoint: Resolved<string>;
}

/** What a launch template version or launch configuration declares; absent = left out. */
export interface DeclaredMetadata {
  readonly httpTokens?: string | undefined;
  readonly httpPutResponseHopLimit?: number | undefined;
  readonly httpEndpoint?: string | undefined;
}

/** The account's IMDS defaults in one region; undefined fields mean "no preference". */
export interface AccountDefaults {
  readonly httpTokens: string | undefined;
  readonly httpPutResponseHopLimit: number | undefined;
  readonly httpEndpoint: string | undefined;
  readonly httpTokensEnforced: string | undefined;
  /** `declarative-policy` when an AWS Organizations declarative policy sets them: the account cannot change them. */
  readonly managedBy: string | undefined;
  readonly managedExceptionMessage: string | undefined;
}

export const NO_ACCOUNT_PREFERENCE: AccountDefaults = {
  httpTokens: undefined,
  httpPutResponseHopLimit: undefined,
  httpEndpoint: undefined,
  httpTokensEnforced: undefined,
  managedBy: undefined,
  managedExceptionMessage: undefined,
};

/** The AMI a launch uses, when the template names it; `imdsSupport` is `v2.0` or undefined. */
export interface AmiFacts {
  readonly imageId: string;
  readonly imdsSupport: string | undefined;
}

const EC2_DEFAULTS = { httpTokens: 'optional', httpPutResponseHopLimit: 1, httpEndpoint: 'enabled' } as const;
const AMI_V2_DEFAULTS = { httpTokens: 'required', httpPutResponseHopLimit: 2 } as const;

/**
 * Each option as a launch would resolve it. An AMI that is not known (the template names none:
 * EKS or the launcher picks it) counts as one without `ImdsSupport`, so the judgement never
 * relies on a setting nobody can see; the fix (setting the option in the template) is right either way.
 */
export function resolveLaunchMetadata(
  declared: DeclaredMetadata,
  declaredIn: 'launch template' | 'launch configuration',
  account: AccountDefaults,
  ami: AmiFacts | undefined,
): ResolvedMetadata {
  const amiV2 = ami?.imdsSupport === 'v2.0';
  const pick = <T>(launch: T | undefined, fromAccount: T | undefined, fromAmi: T | undefined, fallback: T): Resolved<T> => {
    if (launch !== undefined) return { value: launch, source: declaredIn };
    if (fromAccount !== undefined) return { value: fromAccount, source: 'account default' };
    if (fromAmi !== undefined) return { value: fromAmi, source: 'AMI' };
    return { value: fallback, source: 'EC2 default' };
  };
  return {
    httpTokens: pick(declared.httpTokens, account.httpTokens, amiV2 ? AMI_V2_DEFAULTS.httpTokens : undefined, EC2_DEFAULTS.httpTokens),
    httpPutResponseHopLimit: pick(
      declared.httpPutResponseHopLimit,
      account.httpPutResponseHopLimit,
      amiV2 ? AMI_V2_DEFAULTS.httpPutResponseHopLimit : undefined,
      EC2_DEFAULTS.httpPutResponseHopLimit,
    ),
    // The AMI has no say over the endpoint.
    httpEndpoint: pick(declared.httpEndpoint, account.httpEndpoint, undefined, EC2_DEFAULTS.httpEndpoint),
  };
}

export interface ResolvedCheck extends CheckResult {
  readonly source: ValueSource;
}

/** The shared checks over resolved values, each remembering where its value came from. */
export function checkResolvedMetadata(
  resolved: ResolvedMetadata,
  params: Pick<RuleParameters, 'minHopLimit' | 'maxHopLimit' | 'requireHttpEndpoint'>,
): ResolvedCheck[] {
  const values = {
    httpTokens: resolved.httpTokens.value,
    httpPutResponseHopLimit: resolved.httpPutResponseHopLimit.value,
    httpEndpoint: resolved.httpEndpoint.value,
  };
  const sources: Record<MetadataCheckName, ValueSource> = {
    httpTokens: resolved.httpTokens.source,
    hopLimit: resolved.httpPutResponseHopLimit.source,
    httpEndpoint: resolved.httpEndpoint.source,
  };
  return checkMetadata(values, params).map((check) => ({ ...check, source: sources[check.check as MetadataCheckName] }));
}

/**
 * One check in words, saying where a value the launch does not set comes from:
 * `HttpTokens optional (want required)`, `HopLimit not set: account default 1 applies (want >=2)`.
 */
export function describeCheck(check: ResolvedCheck, declaredIn: ValueSource): string {
  const label = CHECK_LABELS[check.check];
  const want = check.passed ? '' : ` (want ${check.expected})`;
  if (check.source === declaredIn) return `${label} ${check.actual}${want}`;
  return `${label} not set: ${check.source} ${check.actual} applies${want}`;
}

/** The short form, for when the annotation is tight: `HopLimit 1 (account default)`. */
export function describeCheckShort(check: ResolvedCheck, declaredIn: ValueSource): string {
  const label = CHECK_LABELS[check.check];
  return check.source === declaredIn ? `${label} ${check.actual}` : `${label} ${check.actual} (${check.source})`;
}

/** `HttpTokens=required,HttpPutResponseHopLimit=2`, as prose and CLI shorthand both read it. */
export function describeFixedOptions(fixed: FixedMetadataOptions): string {
  return Object.entries(fixed)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(',');
}

/**
 * The MetadataOptions a fixed launch template version carries: tokens and hop limit explicit
 * (so neither the account nor the AMI can change them later); the endpoint only when it fails.
 */
export function fixedMetadataOptions(
  resolved: ResolvedMetadata,
  params: Pick<RuleParameters, 'minHopLimit' | 'maxHopLimit' | 'requireHttpEndpoint'>,
): FixedMetadataOptions {
  return {
    HttpTokens: 'required',
    HttpPutResponseHopLimit: targetHopLimit(resolved.httpPutResponseHopLimit.value, params),
    ...(params.requireHttpEndpoint && resolved.httpEndpoint.value !== 'enabled' ? { HttpEndpoint: 'enabled' as const } : {}),
  };
}

export interface FixedMetadataOptions {
  readonly HttpTokens: 'required';
  readonly HttpPutResponseHopLimit: number;
  readonly HttpEndpoint?: 'enabled';
}
