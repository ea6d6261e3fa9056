/** The report's content, computed once from the results (and notifications) for every output format. */
import { readAnnotation, CHECK_KINDS, type CheckKind } from './annotations.ts';
import type { CollectedNotifications, NotificationDetails } from './notifications.ts';
import type { RuleResult } from './read-results.ts';

export type ReportScope =
  | { readonly kind: 'aggregator'; readonly aggregator: string; readonly region: string | undefined }
  | { readonly kind: 'account'; readonly accountId: string; readonly region: string };

export interface ResultRow extends RuleResult {
  readonly cluster: string | undefined;
  readonly failingChecks: readonly CheckKind[];
  readonly exemptUntil: string | undefined;
}

export interface GroupCount {
  readonly accountId: string;
  readonly region: string;
  readonly cluster: string;
  readonly nodes: number;
}

export interface SourceToFix {
  readonly accountId: string;
  readonly region: string;
  /** `launch template lt-…`, `node group …`, `node pool …`, `Auto Scaling group …`. */
  readonly source: string;
  /** The groups that launch from it (`node group general`), when the source is a launch template. */
  readonly via: readonly string[];
  readonly cluster: string | undefined;
  /** Non-compliant nodes traced to it (through annotations or notifications). */
  readonly nonCompliantNodes: number;
  /** Its own result from the sources rule, when that rule judged it. */
  readonly sourceRuleCompliance: string | undefined;
  readonly fix: string | undefined;
}

export type ExemptionStatus = 'active' | 'expires soon' | 'expired' | 'no expiry' | 'ignored';

export interface ExemptionRow {
  readonly accountId: string;
  readonly region: string;
  readonly resourceId: string;
  readonly cluster: string | undefined;
  readonly compliance: string;
  readonly until: string | undefined;
  readonly status: ExemptionStatus;
  readonly annotation: string;
}

export interface OutcomeSummary {
  readonly input: string;
  readonly notifications: number;
  readonly unreadableLines: number;
  readonly byOutcome: readonly { readonly outcome: string; readonly count: number }[];
  readonly needsPerson: readonly {
    /** An instance, or a source (launch template, Auto Scaling group, the account's defaults). */
    readonly resourceId: string;
    readonly resourceType: string;
    readonly accountId: string;
    readonly cluster: string;
    readonly outcome: string;
    readonly action: string;
  }[];
}

export interface Report {
  readonly generatedAt: string;
  readonly scope: ReportScope;
  readonly rules: readonly { readonly name: string; readonly kind: string; readonly hasResults: boolean }[];
  readonly accountRegions: number;
  readonly counts: { readonly nodes: Readonly<Record<string, number>>; readonly sources: Readonly<Record<string, number>> };
  readonly nonCompliantByAccountCluster: readonly GroupCount[];
  readonly failingChecks: readonly { readonly check: CheckKind; readonly nodes: number }[];
  readonly sourcesToFix: readonly SourceToFix[];
  readonly exemptions: readonly ExemptionRow[];
  readonly outcomes: OutcomeSummary | undefined;
  readonly rows: readonly ResultRow[];
}

export interface SummaryInput {
  readonly scope: ReportScope;
  readonly rules: readonly { readonly name: string; readonly kind: string }[];
  readonly results: readonly RuleResult[];
  readonly rulesWithoutResults: readonly string[];
  readonly notifications: CollectedNotifications | undefined;
  readonly now: Date;
}

const COMPLIANCE_TYPES = ['NON_COMPLIANT', 'COMPLIANT', 'NOT_APPLICABLE', 'INSUFFICIENT_DATA'];
const EXPIRES_SOON_DAYS = 14;
const DAY_MS = 86_400_000;

export function summarize(input: SummaryInput): Report {
  const rows: ResultRow[] = input.results.map((result) => {
    const facts = readAnnotation(result.annotation, result.compliance);
    return { ...result, cluster: facts.cluster, failingChecks: facts.failingChecks, exemptUntil: facts.exemption?.until };
  });
  const nodes = rows.filter((r) => r.ruleKind === 'nodes');
  const nonCompliantNodes = nodes.filter((r) => r.compliance === 'NON_COMPLIANT');
  const latest = latestNotificationByInstance(input.notifications?.notifications ?? []);

  return {
    generatedAt: input.now.toISOString(),
    scope: input.scope,
    rules: input.rules.map((r) => ({ ...r, hasResults: !input.rulesWithoutResults.includes(r.name) })),
    accountRegions: new Set(rows.map((r) => `${r.accountId}/${r.region}`)).size,
    counts: { nodes: countBy(nodes, (r) => r.compliance), sources: countBy(rows.filter((r) => r.ruleKind === 'sources'), (r) => r.compliance) },
    nonCompliantByAccountCluster: byAccountCluster(nonCompliantNodes),
    failingChecks: CHECK_KINDS.map((check) => ({ check, nodes: nonCompliantNodes.filter((r) => r.failingChecks.includes(check)).length })).filter((c) => c.nodes > 0),
    sourcesToFix: sourcesToFix(rows, nonCompliantNodes, latest),
    exemptions: exemptions(rows, input.now),
    outcomes: input.notifications === undefined ? undefined : outcomes(input.notifications),
    rows: rows.sort(byRowOrder),
  };
}

/** 1 when anything is NON_COMPLIANT (nodes or their sources), as `npm run scan` exits. */
export function hasFindings(report: Report): boolean {
  return (report.counts.nodes['NON_COMPLIANT'] ?? 0) + (report.counts.sources['NON_COMPLIANT'] ?? 0) > 0;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(COMPLIANCE_TYPES.slice(0, 3).map((t) => [t, 0]));
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

function byAccountCluster(nonCompliant: readonly ResultRow[]): GroupCount[] {
  const groups = new Map<string, GroupCount>();
  for (const row of nonCompliant) {
    const cluster = row.cluster ?? '(cluster unknown)';
    const key = `${row.accountId}\u0000${row.region}\u0000${cluster}`;
    const group = groups.get(key);
    groups.set(key, { accountId: row.accountId, region: row.region, cluster, nodes: (group?.nodes ?? 0) + 1 });
  }
  return [...groups.values()].sort((a, b) => b.nodes - a.nodes || a.accountId.localeCompare(b.accountId) || a.cluster.localeCompare(b.cluster));
}

function latestNotificationByInstance(notifications: readonly NotificationDetails[]): Map<string, NotificationDetails> {
  const latest = new Map<string, NotificationDetails>();
  for (const n of notifications) {
    const seen = latest.get(n.resourceId);
    if (seen === undefined || (n.generatedAt ?? '') >= (seen.generatedAt ?? '')) latest.set(n.resourceId, n);
  }
  return latest;
}

function sourcesOfNotification(n: NotificationDetails | undefined): string[] {
  const drift = n?.drift;
  if (!drift) return [];
  return [
    drift.launchTemplateId ? `launch template ${drift.launchTemplateId}` : undefined,
    drift.nodeGroup ? `node group ${drift.nodeGroup}` : undefined,
    drift.nodePool ? `node pool ${drift.nodePool}` : undefined,
  ].filter((s): s is string => s !== undefined);
}

function sourceLabel(row: RuleResult): string {
  if (row.resourceType === 'AWS::EC2::LaunchTemplate') return `launch template ${row.resourceId}`;
  if (row.resourceType === 'AWS::AutoScaling::AutoScalingGroup') return `Auto Scaling group ${row.resourceId}`;
  return `${row.resourceType} ${row.resourceId}`;
}

/**
 * The one thing to fix per node: a Karpenter node pool (its launch templates are generated, edits
 * are undone), else the launch template (what the sources rule judges; the group that uses it is
 * kept as `via`), else the group.
 */
function primarySource(named: readonly string[]): { source: string; via: string[] } | undefined {
  const pool = named.find((s) => s.startsWith('node pool '));
  if (pool !== undefined) return { source: pool, via: [] };
  const template = named.find((s) => s.startsWith('launch template '));
  if (template !== undefined) return { source: template, via: named.filter((s) => s !== template && !s.startsWith('launch template ')) };
  const [first, ...rest] = named;
  return first === undefined ? undefined : { source: first, via: rest };
}

function sourcesToFix(rows: readonly ResultRow[], nonCompliantNodes: readonly ResultRow[], latest: Map<string, NotificationDetails>): SourceToFix[] {
  interface Entry { accountId: string; region: string; source: string; via: Set<string>; cluster: string | undefined; nodes: Set<string>; compliance: string | undefined; fix: string | undefined }
  const entries = new Map<string, Entry>();
  const entry = (accountId: string, region: string, source: string): Entry => {
    const key = `${accountId}\u0000${region}\u0000${source}`;
    let found = entries.get(key);
    if (found === undefined) entries.set(key, (found = { accountId, region, source, via: new Set(), cluster: undefined, nodes: new Set(), compliance: undefined, fix: undefined }));
    return found;
  };
  for (const node of nonCompliantNodes) {
    const notification = latest.get(node.resourceId);
    const primary = primarySource([...new Set([...readAnnotation(node.annotation, node.compliance).sources, ...sourcesOfNotification(notification)])]);
    if (primary === undefined) continue;
    const e = entry(node.accountId, node.region, primary.source);
    e.nodes.add(node.resourceId);
    for (const group of primary.via) e.via.add(group);
    e.cluster ??= node.cluster ?? notification?.cluster ?? undefined;
    e.fix ??= notification?.drift?.fix ?? undefined;
  }
  for (const row of rows) {
    if (row.ruleKind !== 'sources' || row.compliance !== 'NON_COMPLIANT') continue;
    const e = entry(row.accountId, row.region, sourceLabel(row));
    e.compliance = row.compliance;
    e.cluster ??= row.cluster;
    // The sources rule's annotation names the exact fix; prefer it.
    e.fix = row.annotation || e.fix;
  }
  return [...entries.values()]
    .map((e) => ({ accountId: e.accountId, region: e.region, source: e.source, via: [...e.via].sort(), cluster: e.cluster, nonCompliantNodes: e.nodes.size, sourceRuleCompliance: e.compliance, fix: e.fix }))
    .sort((a, b) => b.nonCompliantNodes - a.nonCompliantNodes || Number(b.sourceRuleCompliance !== undefined) - Number(a.sourceRuleCompliance !== undefined) || a.source.localeCompare(b.source));
}

function exemptions(rows: readonly ResultRow[], now: Date): ExemptionRow[] {
  const found: ExemptionRow[] = [];
  for (const row of rows) {
    const exemption = readAnnotation(row.annotation, row.compliance).exemption;
    if (exemption === undefined) continue;
    found.push({
      accountId: row.accountId,
      region: row.region,
      resourceId: row.resourceId,
      cluster: row.cluster,
      compliance: row.compliance,
      until: exemption.until,
      status: exemptionStatus(exemption.until, exemption.ignored, now),
      annotation: row.annotation,
    });
  }
  // Soonest expiry first; open-ended ones last.
  return found.sort((a, b) => (a.until ?? '9999').localeCompare(b.until ?? '9999') || a.resourceId.localeCompare(b.resourceId));
}

function exemptionStatus(until: string | undefined, ignored: boolean, now: Date): ExemptionStatus {
  if (ignored) return 'ignored';
  if (until === undefined) return 'no expiry';
  const end = Date.parse(`${until}T23:59:59Z`);
  if (Number.isNaN(end)) return 'no expiry';
  if (end < now.getTime()) return 'expired';
  return end - now.getTime() <= EXPIRES_SOON_DAYS * DAY_MS ? 'expires soon' : 'active';
}

function outcomes(collected: CollectedNotifications): OutcomeSummary {
  const counts = new Map<string, number>();
  for (const n of collected.notifications) counts.set(n.outcome, (counts.get(n.outcome) ?? 0) + 1);
  const needsPerson = collected.notifications
    .filter((n) => n.outcome === 'failed' || (n.actionsRequired?.length ?? 0) > 0)
    .map((n) => ({
      resourceId: n.resourceId,
      resourceType: n.resourceType,
      accountId: n.accountId ?? 'unknown',
      cluster: n.cluster ?? 'unknown',
      outcome: n.outcome,
      action: n.actionsRequired?.join(' ') || n.headline || 'see the notification',
    }));
  return {
    input: collected.file,
    notifications: collected.notifications.length,
    unreadableLines: collected.unreadable.length,
    byOutcome: [...counts].map(([outcome, count]) => ({ outcome, count })).sort((a, b) => b.count - a.count || a.outcome.localeCompare(b.outcome)),
    needsPerson,
  };
}

function byRowOrder(a: ResultRow, b: ResultRow): number {
  return (
    COMPLIANCE_TYPES.indexOf(a.compliance) - COMPLIANCE_TYPES.indexOf(b.compliance) ||
    a.accountId.localeCompare(b.accountId) ||
    a.region.localeCompare(b.region) ||
    a.ruleName.localeCompare(b.ruleName) ||
    a.resourceId.localeCompare(b.resourceId)
  );
}
