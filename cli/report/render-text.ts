/** The terminal summary and the CSV export. */
import { formatTable } from '../table.ts';
import type { Report, SourceToFix } from './summarize.ts';

const TOP = 10;

export function describeScope(report: Report): string {
  const scope = report.scope;
  return scope.kind === 'aggregator'
    ? `aggregator ${scope.aggregator}${scope.region ? ` (${scope.region})` : ''}`
    : `account ${scope.accountId} (${scope.region})`;
}

export function describeSource(s: SourceToFix): string {
  const via = s.via.length > 0 ? ` via ${s.via.join(', ')}` : '';
  return `${s.source}${via}${s.cluster ? ` (cluster ${s.cluster})` : ''}`;
}

export function renderSummary(report: Report): string {
  const out: string[] = [];
  const nodes = report.counts.nodes;
  const rules = report.rules.map((r) => `${r.name}${r.hasResults ? '' : ' (no results)'}`).join(', ');
  out.push(`eks-imds-guard report: ${describeScope(report)}, ${report.accountRegions} account/region pair(s); rules ${rules}`);
  out.push(`Nodes: ${nodes['NON_COMPLIANT'] ?? 0} non-compliant, ${nodes['COMPLIANT'] ?? 0} compliant, ${nodes['NOT_APPLICABLE'] ?? 0} not applicable`);
  const sources = report.counts.sources;
  if (report.rules.some((r) => r.kind === 'sources' && r.hasResults)) {
    out.push(`Sources (launch templates, groups): ${sources['NON_COMPLIANT'] ?? 0} non-compliant, ${sources['COMPLIANT'] ?? 0} compliant`);
  }
  section(out, 'Non-compliant nodes by account and cluster', report.nonCompliantByAccountCluster.length, () =>
    formatTable(['ACCOUNT', 'REGION', 'CLUSTER', 'NODES'], report.nonCompliantByAccountCluster.slice(0, TOP).map((g) => [g.accountId, g.region, g.cluster, String(g.nodes)])),
  );
  section(out, 'Failing checks', report.failingChecks.length, () => formatTable(['CHECK', 'NODES'], report.failingChecks.map((c) => [c.check, String(c.nodes)])));
  section(out, 'Sources to fix first', report.sourcesToFix.length, () =>
    formatTable(
      ['ACCOUNT', 'REGION', 'NODES', 'SOURCE', 'FIX'],
      report.sourcesToFix.slice(0, TOP).map((s) => [s.accountId, s.region, String(s.nonCompliantNodes), describeSource(s), s.fix ?? '-']),
    ),
  );
  section(out, 'Exemptions', report.exemptions.length, () =>
    formatTable(['ACCOUNT', 'INSTANCE', 'CLUSTER', 'UNTIL', 'STATUS'], report.exemptions.slice(0, TOP).map((e) => [e.accountId, e.resourceId, e.cluster ?? '-', e.until ?? '-', e.status])),
  );
  if (report.outcomes === undefined) {
    out.push('', 'Remediation outcomes: not included (pass --notifications FILE with collected SNS notifications).');
  } else {
    const o = report.outcomes;
    section(out, `Remediation outcomes (${o.notifications} notification(s) from ${o.input})`, o.byOutcome.length, () =>
      formatTable(['OUTCOME', 'COUNT'], o.byOutcome.map((b) => [b.outcome, String(b.count)])),
    );
    section(out, 'Needs a person', o.needsPerson.length, () =>
      formatTable(['RESOURCE', 'ACCOUNT', 'CLUSTER', 'OUTCOME', 'ACTION'], o.needsPerson.slice(0, TOP).map((n) => [n.resourceId, n.accountId, n.cluster, n.outcome, n.action])),
    );
  }
  return `${out.join('\n')}\n`;
}

function section(out: string[], title: string, size: number, table: () => string): void {
  out.push('', `${title}${size > TOP ? ` (top ${TOP} of ${size})` : ''}:`);
  out.push(size === 0 ? '  none' : table());
}

const CSV_COLUMNS = ['account_id', 'region', 'rule', 'resource_type', 'resource_id', 'cluster', 'compliance', 'failing_checks', 'exempt_until', 'annotation', 'recorded_at'] as const;

/** One line per result. Cells that a spreadsheet would run as a formula are prefixed with "'". */
export function renderCsv(report: Report): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of report.rows) {
    lines.push(
      [r.accountId, r.region, r.ruleName, r.resourceType, r.resourceId, r.cluster ?? '', r.compliance, r.failingChecks.join(' '), r.exemptUntil ?? '', r.annotation, r.recordedAt ?? '']
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

function csvCell(value: string): string {
  // Annotations carry tag-derived text (cluster names): never let it become a formula.
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
