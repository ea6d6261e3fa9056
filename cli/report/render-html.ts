/**
 * One self-contained HTML file: inline styles, charts as inline SVG, no scripts, fonts or
 * external resources (the Content-Security-Policy forbids them, so a copy mailed around or opened
 * offline renders the same). Every piece of text from AWS (annotations carry tag values such as
 * cluster names) is escaped.
 */
import type { Report } from './summarize.ts';
import { describeScope, describeSource } from './render-text.ts';

const MAX_TABLE_ROWS = 500;
const MAX_BARS = 20;

const COLORS: Record<string, string> = {
  NON_COMPLIANT: '#c0392b',
  COMPLIANT: '#27ae60',
  NOT_APPLICABLE: '#7f8c8d',
  remediated: '#27ae60',
  'would-remediate': '#2980b9',
  'partially-remediated': '#e67e22',
  skipped: '#7f8c8d',
  failed: '#c0392b',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const e = escapeHtml;

interface Bar {
  readonly label: string;
  readonly value: number;
  readonly color?: string;
}

/** A horizontal bar chart; long labels are shortened on screen and kept whole in a tooltip. */
export function barChart(id: string, title: string, bars: readonly Bar[]): string {
  if (bars.length === 0) return `<p class="empty" id="${e(id)}">Nothing to show.</p>`;
  const shown = bars.slice(0, MAX_BARS);
  const labelWidth = 300;
  const barArea = 380;
  const row = 24;
  const width = labelWidth + barArea + 60;
  const height = shown.length * row + 8;
  const max = Math.max(...shown.map((b) => b.value), 1);
  const rows = shown
    .map((bar, i) => {
      const y = 4 + i * row;
      const length = Math.max(2, Math.round((bar.value / max) * barArea));
      const label = bar.label.length > 44 ? `${bar.label.slice(0, 43)}…` : bar.label;
      return (
        `<g class="bar" data-label="${e(bar.label)}" data-value="${bar.value}"><title>${e(bar.label)}: ${bar.value}</title>` +
        `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end">${e(label)}</text>` +
        `<rect x="${labelWidth}" y="${y + 3}" width="${length}" height="${row - 8}" rx="2" fill="${bar.color ?? '#c0392b'}"/>` +
        `<text x="${labelWidth + length + 6}" y="${y + 16}">${bar.value}</text></g>`
      );
    })
    .join('');
  const more = bars.length > shown.length ? `<p class="note">Top ${shown.length} of ${bars.length}.</p>` : '';
  return `<svg id="${e(id)}" class="chart" role="img" aria-label="${e(title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">${rows}</svg>${more}`;
}

/** A cell; identifiers (no spaces) never wrap at their hyphens. */
function td(cell: string, className = ''): string {
  const classes = [className, /^\S{1,40}$/.test(cell) ? 'nw' : ''].filter(Boolean).join(' ');
  return `<td${classes ? ` class="${classes}"` : ''}>${e(cell)}</td>`;
}

function table(headers: readonly string[], rows: readonly (readonly string[])[], className = ''): string {
  const head = headers.map((h) => `<th>${e(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((cell) => td(cell)).join('')}</tr>`).join('');
  return `<table${className ? ` class="${className}"` : ''}><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function card(label: string, value: number, tone: string): string {
  return `<div class="card ${tone}"><div class="value">${value.toLocaleString('en-US')}</div><div class="label">${e(label)}</div></div>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1d2329;background:#f4f6f8}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px}
.meta{color:#52606d;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border-radius:6px;padding:12px 16px;min-width:140px;border-left:5px solid #7f8c8d}
.card.bad{border-color:#c0392b}.card.good{border-color:#27ae60}.card.warn{border-color:#e67e22}
.card .value{font-size:26px;font-weight:600}.card .label{color:#52606d}
section{background:#fff;border-radius:6px;padding:4px 16px 16px;margin-top:16px}
svg.chart{display:block;max-width:100%;height:auto;font-size:12px}svg.chart text{fill:#1d2329}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{background:#f4f6f8}td{overflow-wrap:break-word}td.nw{white-space:nowrap}
.status-expired,.status-ignored{color:#c0392b;font-weight:600}.status-expires-soon{color:#e67e22;font-weight:600}
.note,.empty{color:#52606d}
`;

export function renderHtml(report: Report): string {
  const nodes = report.counts.nodes;
  const sourcesRule = report.rules.find((r) => r.kind === 'sources');
  const rules = report.rules.map((r) => `${r.name}${r.hasResults ? '' : ' (no results)'}`).join(', ');
  const nonCompliantRows = report.rows.filter((r) => r.compliance === 'NON_COMPLIANT');
  const outcomes = report.outcomes;

  const parts: string[] = [];
  parts.push(`<header><h1>EKS node IMDS compliance</h1><p class="meta">${e(describeScope(report))} · ${report.accountRegions} account/region pair(s) · rules ${e(rules)} · generated ${e(report.generatedAt)}</p></header>`);
  parts.push(
    `<div class="cards" id="summary">${card('non-compliant nodes', nodes['NON_COMPLIANT'] ?? 0, 'bad')}${card('compliant nodes', nodes['COMPLIANT'] ?? 0, 'good')}${card('not applicable', nodes['NOT_APPLICABLE'] ?? 0, '')}` +
      `${card('non-compliant sources', report.counts.sources['NON_COMPLIANT'] ?? 0, 'bad')}${card('exemptions', report.exemptions.length, 'warn')}</div>`,
  );

  parts.push(
    `<section><h2>Non-compliant nodes by account and cluster</h2>${barChart(
      'chart-accounts',
      'Non-compliant nodes by account and cluster',
      report.nonCompliantByAccountCluster.map((g) => ({ label: `${g.accountId} ${g.region} · ${g.cluster}`, value: g.nodes })),
    )}</section>`,
  );
  parts.push(
    `<section><h2>Failing checks</h2><p class="note">A node failing several checks counts under each.</p>${barChart(
      'chart-checks',
      'Failing checks by kind',
      report.failingChecks.map((c) => ({ label: c.check, value: c.nodes, color: '#e67e22' })),
    )}</section>`,
  );
  const sourceNote = sourcesRule?.hasResults
    ? `Launch templates and groups named by non-compliant nodes (annotations, notifications) and judged by rule ${e(sourcesRule.name)}.`
    : `Launch templates and groups named by non-compliant nodes (annotations, notifications)${sourcesRule ? `; rule ${e(sourcesRule.name)} has no results` : ''}.`;
  parts.push(
    `<section><h2>Sources to fix first</h2><p class="note">${sourceNote} Fixing a source stops replacement nodes from coming back wrong.</p>${barChart(
      'chart-sources',
      'Non-compliant nodes behind each source',
      report.sourcesToFix.map((s) => ({ label: `${describeSource(s)} · ${s.accountId}`, value: s.nonCompliantNodes, color: '#8e44ad' })),
    )}${
      report.sourcesToFix.length === 0
        ? ''
        : table(
            ['Account', 'Region', 'Source', 'Used by', 'Cluster', 'Non-compliant nodes', 'Sources rule', 'Fix'],
            report.sourcesToFix.slice(0, MAX_TABLE_ROWS).map((s) => [s.accountId, s.region, s.source, s.via.join(', ') || '-', s.cluster ?? '-', String(s.nonCompliantNodes), s.sourceRuleCompliance ?? '-', s.fix ?? '-']),
          )
    }</section>`,
  );

  const exemptionRows = report.exemptions
    .slice(0, MAX_TABLE_ROWS)
    .map(
      (x) =>
        `<tr>${[x.accountId, x.region, x.resourceId, x.cluster ?? '-', x.until ?? '-'].map((cell) => td(cell)).join('')}${td(x.status, `status-${x.status.replace(/ /g, '-')}`)}${td(x.annotation)}</tr>`,
    )
    .join('');
  parts.push(
    `<section id="exemptions"><h2>Exemptions</h2>${
      report.exemptions.length === 0
        ? '<p class="empty">No exempt nodes.</p>'
        : `<table><thead><tr><th>Account</th><th>Region</th><th>Instance</th><th>Cluster</th><th>Until</th><th>Status</th><th>Annotation</th></tr></thead><tbody>${exemptionRows}</tbody></table>`
    }</section>`,
  );

  parts.push(
    `<section id="outcomes"><h2>Remediation outcomes</h2>${
      outcomes === undefined
        ? '<p class="empty">Not included: pass <code>--notifications FILE</code>, a JSON-lines file of the SNS notifications collected from the topic (e.g. through an SQS subscription).</p>'
        : `<p class="note">${outcomes.notifications} notification(s) from ${e(outcomes.input)}${outcomes.unreadableLines > 0 ? `; ${outcomes.unreadableLines} line(s) were not notifications` : ''}.</p>${barChart(
            'chart-outcomes',
            'Remediation outcomes',
            outcomes.byOutcome.map((o) => ({ label: o.outcome, value: o.count, color: COLORS[o.outcome] ?? '#2980b9' })),
          )}<h3>Needs a person</h3>${
            outcomes.needsPerson.length === 0
              ? '<p class="empty">Nothing.</p>'
              : table(['Resource', 'Account', 'Cluster', 'Outcome', 'Action'], outcomes.needsPerson.slice(0, MAX_TABLE_ROWS).map((n) => [n.resourceId, n.accountId, n.cluster, n.outcome, n.action]))
          }`
    }</section>`,
  );

  parts.push(
    `<section id="noncompliant"><h2>Non-compliant resources</h2>${
      nonCompliantRows.length === 0
        ? '<p class="empty">None.</p>'
        : `${nonCompliantRows.length > MAX_TABLE_ROWS ? `<p class="note">First ${MAX_TABLE_ROWS} of ${nonCompliantRows.length}; the CSV export (--format csv) lists all.</p>` : ''}${table(
            ['Account', 'Region', 'Rule', 'Resource', 'Cluster', 'Annotation'],
            nonCompliantRows.slice(0, MAX_TABLE_ROWS).map((r) => [r.accountId, r.region, r.ruleName, r.resourceId, r.cluster ?? '-', r.annotation]),
          )}`
    }</section>`,
  );

  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>EKS node IMDS compliance - ${e(describeScope(report))}</title>
<style>${STYLE}</style></head>
<body><main>
${parts.join('\n')}
<p class="note">Generated by <code>npm run report</code> (eks-imds-guard) from AWS Config results; counts are the latest result per resource.</p>
</main></body></html>
`;
}
