/**
 * `npm run report`: the security team's view of the rule's results, read-only, through AWS
 * Config: an organization aggregator (every member account and region) or, with --account, the
 * account and region the credentials reach. Exit 0 = all compliant, 1 = findings, 2 = error.
 */
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { clientOptions, EXIT, explainAwsError, oneOf, parseCommandLine, parseOrExit, runAsProcess, UsageError, type CliIo } from './common.ts';
import { readNotifications, type CollectedNotifications } from './report/notifications.ts';
import { readAccount, readAccountScope, readAggregator, ReadError, type ReadOutcome, type RuleRef } from './report/read-results.ts';
import { renderHtml } from './report/render-html.ts';
import { renderCsv, renderSummary } from './report/render-text.ts';
import { hasFindings, summarize, type ReportScope } from './report/summarize.ts';

export const USAGE = `Usage: npm run report -- (--aggregator NAME | --account) [--rule NAME] [--region R] [--profile P]
                          [--format table|json|csv] [--html FILE] [--notifications FILE]

Reads the eks-imds-guard rule's results (and those of its "<rule>-sources" rule, when deployed)
from AWS Config, read-only, and summarizes them: non-compliant nodes by account and cluster,
failing checks, the launch templates and groups to fix first, exemptions with their expiry, and
remediation outcomes.

Options:
  --aggregator NAME    read every account and region of this AWS Config aggregator (run it in the
                       aggregator's account and region; infra/organization.yaml CreateAggregator=true)
  --account            read only the account and region the credentials reach
  --rule NAME          the rule's name (default: eks-imds-guard)
  --region R           AWS region (default: AWS_REGION or the profile's region)
  --profile P          named profile from ~/.aws/config (default: the default credential chain)
  --format F           what goes to stdout: table (a summary, default), json or csv (one line per result)
  --html FILE          also write one self-contained HTML report with charts to FILE
  --notifications FILE remediation outcomes from a JSON-lines file of collected SNS notifications
                       (one message a line: the SNS envelope with "Message", or the details JSON)
  -h, --help           this text

Exit status: 0 all compliant, 1 some non-compliant, 2 error.`;

interface ReportOptions {
  readonly mode: { readonly kind: 'aggregator'; readonly name: string } | { readonly kind: 'account' };
  readonly rule: string;
  readonly region?: string;
  readonly profile?: string;
  readonly format: 'table' | 'json' | 'csv';
  readonly html?: string;
  readonly notifications?: string;
}

export interface ReportDependencies {
  /** The report's clock, for exemption expiry. */
  readonly now?: () => Date;
}

export async function runReport(argv: readonly string[], io: CliIo, deps: ReportDependencies = {}): Promise<number> {
  const options = parseOrExit('report', USAGE, io, () => parseReportArgs(argv));
  if (typeof options === 'number') return options;

  let notifications: CollectedNotifications | undefined;
  if (options.notifications !== undefined) {
    try {
      notifications = await readNotifications(options.notifications);
    } catch (error) {
      io.stderr(`report: cannot read --notifications ${options.notifications}: ${(error as Error).message}\n`);
      return EXIT.error;
    }
    io.stderr(`report: ${notifications.notifications.length} notification(s) read from ${options.notifications}\n`);
    for (const { line, reason } of notifications.unreadable.slice(0, 5)) io.stderr(`report: ${options.notifications}:${line} skipped: ${reason}\n`);
    if (notifications.unreadable.length > 5) io.stderr(`report: ${notifications.unreadable.length - 5} more line(s) of ${options.notifications} skipped\n`);
  }

  const rules: RuleRef[] = [
    { name: options.rule, kind: 'nodes' },
    { name: `${options.rule}-sources`, kind: 'sources' },
  ];
  const config = new ConfigServiceClient(clientOptions(options));
  const progress = (text: string) => io.stderr(`report: ${text}\n`);
  let read: ReadOutcome;
  let scope: ReportScope;
  try {
    if (options.mode.kind === 'aggregator') {
      const region = await config.config.region().catch(() => undefined);
      scope = { kind: 'aggregator', aggregator: options.mode.name, region };
      read = await readAggregator(config, options.mode.name, rules, progress);
    } else {
      const account = await readAccountScope(config, rules[0]!);
      scope = { kind: 'account', ...account };
      read = await readAccount(config, account, rules, progress);
    }
  } catch (error) {
    io.stderr(`report: ${explainReadError(error, options)}\n`);
    return EXIT.error;
  } finally {
    config.destroy();
  }

  const report = summarize({ scope, rules, results: read.results, rulesWithoutResults: read.rulesWithoutResults, notifications, now: (deps.now ?? (() => new Date()))() });
  if (options.html !== undefined) {
    const file = resolve(options.html);
    try {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, renderHtml(report), 'utf8');
    } catch (error) {
      io.stderr(`report: cannot write --html ${options.html}: ${(error as Error).message}\n`);
      return EXIT.error;
    }
    io.stderr(`report: HTML report written to ${file}\n`);
  }
  io.stdout(options.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : options.format === 'csv' ? renderCsv(report) : renderSummary(report));
  return hasFindings(report) ? EXIT.findings : EXIT.compliant;
}

function parseReportArgs(argv: readonly string[]): ReportOptions | 'help' {
  const { values, positionals } = parseCommandLine(argv, {
    aggregator: { type: 'string' },
    account: { type: 'boolean' },
    rule: { type: 'string', default: 'eks-imds-guard' },
    region: { type: 'string' },
    profile: { type: 'string' },
    format: { type: 'string', default: 'table' },
    html: { type: 'string' },
    notifications: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if ((values.aggregator === undefined) === (values.account !== true)) {
    throw new UsageError('give exactly one of --aggregator NAME (the organization) or --account (the account of the credentials)');
  }
  if (values.aggregator !== undefined && !/^[\w-]{1,256}$/.test(values.aggregator)) {
    throw new UsageError(`--aggregator must be 1-256 letters, digits, "_" or "-", got "${values.aggregator}"`);
  }
  // The sources rule's name adds "-sources": the rule name must leave room within Config's 128 characters.
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,119}$/.test(values.rule)) {
    throw new UsageError(`--rule must be a Config rule name (letters, digits, "-" and "_", up to 120 characters), got "${values.rule}"`);
  }
  return {
    mode: values.aggregator !== undefined ? { kind: 'aggregator', name: values.aggregator } : { kind: 'account' },
    rule: values.rule,
    format: oneOf('--format', values.format, ['table', 'json', 'csv'] as const),
    ...(values.region ? { region: values.region } : {}),
    ...(values.profile ? { profile: values.profile } : {}),
    ...(values.html ? { html: values.html } : {}),
    ...(values.notifications ? { notifications: values.notifications } : {}),
  };
}

function explainReadError(error: unknown, options: ReportOptions): string {
  if (!(error instanceof ReadError)) return `${(error as Error).name}: ${(error as Error).message}`;
  const cause = error.cause as Error;
  if (cause.name === 'NoSuchConfigurationAggregatorException' && options.mode.kind === 'aggregator') {
    return (
      `no AWS Config aggregator named "${options.mode.name}" in the account and region of these credentials (${cause.name}). ` +
      'Run the report in the aggregator\'s account and region (--profile, --region), or create one with infra/organization.yaml (CreateAggregator=true).'
    );
  }
  if (cause.name === 'NoSuchConfigRuleException') {
    return `no AWS Config rule named "${options.rule}" in the account and region of these credentials (${cause.name}). Pass --rule NAME or --region R.`;
  }
  return explainAwsError(cause, error.context);
}

if (import.meta.main) await runAsProcess('report', runReport);
