import type { NodeKind } from '../shared/eks-node.ts';
import { describeExemption, type Exemption } from '../shared/exemption.ts';
import { cleanText, describeAwsError, quoteValue } from '../shared/sanitize.ts';
import type { RemediationMode } from './config.ts';
import type { DriftWarning, FieldChange, MetadataValues } from './plan.ts';
import type { RemediationPath } from './trigger.ts';

export const OUTCOMES = ['remediated', 'would-remediate', 'partially-remediated', 'skipped', 'failed'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** SNS refuses a Subject of 100 characters or more. */
export const MAX_SUBJECT_LENGTH = 99;
/** The line after which the message carries the JSON block: subscribers split on it. */
export const JSON_BLOCK_MARKER = '--- details (JSON) ---';
/** Room a tag value gets in the subject: account, region, outcome and instance id always fit before it. */
const SUBJECT_CLUSTER_LENGTH = 20;
/** Room any one text field of a report gets (an action, an error, a fix): far below SNS's 256 KB. */
const FIELD_LENGTH = 1_000;
/** SNS attribute values are matched exactly by filter policies: cleaned but not quoted. */
const ATTRIBUTE_LENGTH = 100;

export interface Verification {
  readonly status: 'verified' | 'not-verified';
  readonly detail: string;
  readonly waitedMs: number;
  /** The metadata options as last read. */
  readonly observed: (MetadataValues & { readonly state: string | undefined }) | undefined;
}

export interface Imdsv1GuardReport {
  readonly enabled: boolean;
  readonly lookbackHours: number;
  /** Undefined when the guard did not need to look (tokens already required) or is off. */
  readonly imdsv1Calls: number | undefined;
  readonly tokensHeldBack: boolean;
}

/** Everything one invocation found and did: rendered as text for people and as JSON for machines. */
export interface RemediationReport {
  readonly outcome: Outcome;
  /** Machine-readable cause: a skip reason, `applied`, `dry-run-permitted`, or the AWS error code. */
  readonly reason: string;
  readonly headline: string;
  readonly mode: RemediationMode;
  /** Which rule brought the event: `config` (a compliance change) or `state-change` (a launch). */
  readonly path: RemediationPath;
  readonly eventId: string;
  readonly configRuleName: string;
  readonly accountId: string;
  readonly region: string;
  readonly instanceId: string;
  readonly cluster: string | undefined;
  readonly nodeKind: NodeKind | undefined;
  readonly nodeGroup: string | undefined;
  /** The exemption tag as judged now: `active` stopped the remediation; `ignored` did not, and says why. */
  readonly exemption: Exemption | undefined;
  readonly before: MetadataValues | undefined;
  readonly after: MetadataValues | undefined;
  readonly changes: readonly FieldChange[];
  readonly verification: Verification | undefined;
  readonly imdsv1Guard: Imdsv1GuardReport | undefined;
  readonly actionsRequired: readonly string[];
  readonly drift: DriftWarning | undefined;
  readonly error: { readonly operation: string; readonly code: string; readonly message: string } | undefined;
  readonly generatedAt: string;
}

export interface RenderedNotification {
  readonly subject: string;
  readonly message: string;
  /** The JSON details block of the message, on its own: the EventBridge event's detail. */
  readonly details: string;
  /** SNS message attributes (all String) for subscription filter policies. */
  readonly attributes: Readonly<Record<string, string>>;
}

const OUTCOME_LABELS: Record<Outcome, string> = {
  remediated: 'remediated',
  'would-remediate': 'would remediate',
  'partially-remediated': 'partially remediated',
  skipped: 'skipped',
  failed: 'FAILED',
};

const PATH_LABELS: Record<RemediationPath, string> = {
  config: 'Config compliance change',
  'state-change': 'EC2 launch',
};

const FIELDS: readonly { readonly key: keyof MetadataValues; readonly field: FieldChange['field'] }[] = [
  { key: 'httpTokens', field: 'HttpTokens' },
  { key: 'hopLimit', field: 'HttpPutResponseHopLimit' },
  { key: 'httpEndpoint', field: 'HttpEndpoint' },
];

/**
 * Tag values and AWS error text reach every part of the notification, so every text of the
 * report is cleaned first (sanitize.ts), tag values are quoted where they sit inside a sentence,
 * and the subject leads with the account and region, which come from the validated event.
 */
export function renderNotification(report: RemediationReport): RenderedNotification {
  const safe = sanitizeReport(report);
  const cluster = safe.cluster ?? 'unknown';
  const subject = toSubject(
    `${safe.accountId}/${safe.region} IMDS ${OUTCOME_LABELS[safe.outcome]}: ${safe.instanceId} cluster ${quoteValue(cluster, SUBJECT_CLUSTER_LENGTH)}`,
  );
  // Outcome first, for a person reading the JSON.
  const { outcome, reason, headline, ...rest } = safe;
  const ordered = { outcome, reason, headline, ...rest };
  // Absent values as null: every key is always there, so consumers can rely on the shape.
  const details = JSON.stringify(ordered, (_key, value: unknown) => value ?? null, 2);
  return {
    subject,
    message: `${renderText(safe)}\n\n${JSON_BLOCK_MARKER}\n${details}\n`,
    details,
    attributes: {
      outcome: safe.outcome,
      accountId: safe.accountId,
      region: safe.region,
      // SNS rejects empty attribute values.
      cluster: cleanText(cluster, ATTRIBUTE_LENGTH) || 'unknown',
      instanceId: safe.instanceId,
      actionRequired: String(safe.actionsRequired.length > 0 || safe.outcome === 'failed'),
    },
  };
}

/**
 * The report with every text cleaned and capped, and AWS error text without its encoded
 * authorization message: what the notification and the function's logs show.
 */
export function sanitizeReport<T extends { readonly error: { readonly message: string } | undefined }>(report: T): T {
  const withoutSecrets = report.error === undefined ? report : { ...report, error: { ...report.error, message: describeAwsError(report.error.message) } };
  return cleanStrings(withoutSecrets) as T;
}

function cleanStrings(value: unknown): unknown {
  if (typeof value === 'string') return cleanText(value, FIELD_LENGTH);
  if (Array.isArray(value)) return value.map(cleanStrings);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, cleanStrings(field)]));
  }
  return value;
}

/** SNS Subject rules: printable ASCII, one line, under 100 characters. */
export function toSubject(text: string): string {
  const ascii = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e]/g, (char) => (/\s/.test(char) ? ' ' : '?'))
    .replace(/\s+/g, ' ')
    .trim();
  if (ascii.length <= MAX_SUBJECT_LENGTH) return ascii || 'IMDS remediation';
  return `${ascii.slice(0, MAX_SUBJECT_LENGTH - 3).trimEnd()}...`;
}

function renderText(report: RemediationReport): string {
  const where = [
    report.cluster ? `cluster ${quoteValue(report.cluster)}` : undefined,
    report.nodeKind ? `${report.nodeKind}${report.nodeGroup ? ` ${quoteValue(report.nodeGroup)}` : ''}` : undefined,
  ].filter(Boolean);
  const lines = [
    `EKS node ${report.instanceId}${where.length > 0 ? ` (${where.join(', ')})` : ''} in account ${report.accountId}, ${report.region}`,
    `Outcome: ${report.outcome} - ${report.headline}`,
    `Mode: ${report.mode}; rule: ${report.configRuleName}; event: ${report.eventId} (${PATH_LABELS[report.path]})`,
  ];
  if (report.exemption !== undefined) {
    const handled = report.exemption.status === 'active' ? 'not remediated' : 'handled as if it had none';
    lines.push(`Exemption: ${describeExemption(report.exemption)} - ${handled}`);
  }

  if (report.before !== undefined && report.after !== undefined) {
    const { before, after } = report;
    const verb = report.outcome === 'would-remediate' ? 'would change' : 'changed';
    lines.push('', 'Metadata options (before -> after):');
    for (const { key, field } of FIELDS) {
      const from = show(before[key]);
      const to = show(after[key]);
      const changed = report.changes.some((change) => change.field === field);
      lines.push(`  ${field.padEnd(24)} ${changed ? `${from} -> ${to}` : `${from} (unchanged)`}`);
    }
    if (report.changes.length === 0) lines.push(`  nothing this function can change`);
    else if (report.outcome === 'failed') lines.push(`  not applied`);
    else lines.push(`  ${report.changes.length} field(s) ${verb}`);
  }

  if (report.verification !== undefined) {
    lines.push('', `Verification: ${report.verification.status === 'verified' ? 'verified' : 'NOT verified'} - ${report.verification.detail}`);
  }
  const guard = report.imdsv1Guard;
  if (guard !== undefined) {
    let text: string;
    if (!guard.enabled) text = 'off (tokens enforced without looking at IMDSv1 use)';
    else if (guard.imdsv1Calls === undefined) text = 'not needed (tokens already required)';
    else if (guard.tokensHeldBack) text = `${guard.imdsv1Calls} IMDSv1 call(s) in the last ${guard.lookbackHours} h: HttpTokens left as it is`;
    else text = `no IMDSv1 calls in the last ${guard.lookbackHours} h`;
    lines.push(`IMDSv1 guard: ${text}`);
  }
  if (report.error !== undefined) {
    lines.push('', `Error: ${report.error.operation} failed with ${report.error.code}: ${report.error.message}`);
  }
  if (report.actionsRequired.length > 0) {
    lines.push('', 'Action required:', ...report.actionsRequired.map((action) => `  - ${action}`));
  }
  if (report.drift !== undefined) {
    lines.push('', 'Launch template drift: replacement nodes will come back with the old settings.', `  Fix: ${report.drift.fix}.`);
  }
  return lines.join('\n');
}

function show(value: string | number | undefined): string {
  return value === undefined ? 'absent' : String(value);
}
