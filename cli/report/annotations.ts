/**
 * What a report can learn from an annotation's text. Annotations are written for people and their
 * wording changes (other rules, exemptions with expiry), so every pattern here is optional: an
 * annotation that matches nothing still counts, under `other`.
 */

export const CHECK_KINDS = ['HttpTokens', 'HopLimit', 'HttpEndpoint', 'InstanceProfile', 'other'] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];

export interface Exemption {
  /** `YYYY-MM-DD`, when the annotation says until when. */
  readonly until: string | undefined;
  /** The annotation says the exemption was ignored (expired, invalid, too long). */
  readonly ignored: boolean;
}

export interface AnnotationFacts {
  readonly cluster: string | undefined;
  readonly failingChecks: readonly CheckKind[];
  readonly exemption: Exemption | undefined;
  /** Where replacement nodes come from, as named in the text: `launch template lt-…`, `node group …`. */
  readonly sources: readonly string[];
}

// The rule quotes the cluster (a tag value: `cluster "prod"`); older annotations did not.
const CLUSTER = /\bcluster "?([A-Za-z0-9][A-Za-z0-9_-]{0,99})\b/;
// The instance rule's form: "<Check> <actual> (want <expected>)", in any order.
const STRICT_CHECK = /\b(HttpTokens|HopLimit|HttpEndpoint) [^;()]{0,40}\(want /g;
const NO_PROFILE = /\bno (?:IAM )?instance profile\b/i;
// Looser wording (e.g. another rule's): matched only when the strict form finds nothing.
const LOOSE_CHECKS: readonly (readonly [CheckKind, RegExp])[] = [
  ['HttpTokens', /\b(?:http ?tokens|imdsv1|tokens optional)\b/i],
  ['HopLimit', /\bhop ?limit\b/i],
  ['HttpEndpoint', /\b(?:http ?endpoint|metadata endpoint)\b/i],
];
const EXEMPT = /\bexempt(?:ion|ed)?\b/i;
const EXEMPT_UNTIL = /\buntil[ =:]+(\d{4}-\d{2}-\d{2})\b/i;
const EXEMPTION_IGNORED = /\bexemption\b[^.;]{0,80}?\b(?:ignored|invalid|expired|too long|exceeds)\b/i;
const SOURCE_PATTERNS: readonly (readonly [string, RegExp])[] = [
  ['launch template', /\blaunch template (lt-[0-9a-f]{8,17})\b/gi],
  ['launch template', /(?<![\w-])(lt-[0-9a-f]{8,17})\b/g],
  ['node group', /\b(?:managed )?node ?group ([A-Za-z0-9][\w.-]{0,62})/gi],
  ['node pool', /\bnode ?pool ([A-Za-z0-9][\w.-]{0,62})/gi],
  ['Auto Scaling group', /\bAuto Scaling group ([\w.:/-]{1,255})/gi],
];

export function readAnnotation(annotation: string, compliance: string): AnnotationFacts {
  // The fix command repeats field names ("--http-tokens"): judge only what comes before it.
  const text = annotation.split(/\. Fix: /)[0] ?? '';
  const exempt = EXEMPT.test(annotation);
  return {
    cluster: CLUSTER.exec(annotation)?.[1],
    failingChecks: compliance === 'NON_COMPLIANT' ? failingChecks(text) : [],
    exemption: exempt ? { until: EXEMPT_UNTIL.exec(annotation)?.[1], ignored: EXEMPTION_IGNORED.test(annotation) } : undefined,
    sources: sourcesIn(annotation),
  };
}

function failingChecks(text: string): CheckKind[] {
  const found = new Set<CheckKind>();
  for (const [, check] of text.matchAll(STRICT_CHECK)) found.add(check as CheckKind);
  if (NO_PROFILE.test(text)) found.add('InstanceProfile');
  if (found.size === 0) for (const [kind, pattern] of LOOSE_CHECKS) if (pattern.test(text)) found.add(kind);
  return found.size === 0 ? ['other'] : CHECK_KINDS.filter((k) => found.has(k));
}

function sourcesIn(annotation: string): string[] {
  const found = new Set<string>();
  for (const [kind, pattern] of SOURCE_PATTERNS) {
    for (const match of annotation.matchAll(pattern)) found.add(`${kind} ${match[1]!.replace(/[.,;:]+$/, '')}`);
  }
  return [...found];
}
