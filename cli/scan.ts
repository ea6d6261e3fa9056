/**
 * `npm run scan`: both rules' judgements against a real account, read-only, with the default
 * credential chain: the nodes (DescribeInstances), then what launches them (Auto Scaling groups,
 * launch templates, the account's IMDS defaults), and AWS Config's recorder settings when allowed.
 * Exit 0 = all compliant, 1 = some non-compliant, 2 = error.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { EC2Client } from '@aws-sdk/client-ec2';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { createSourcesRule } from '../functions/evaluate-sources/rule.ts';
import { annotate } from '../functions/shared/annotation.ts';
import { describeCoverage, describeRecorderCoverage, type RecorderCoverage } from '../functions/shared/config-rule/recorder.ts';
import { EC2_INSTANCE } from '../functions/shared/ec2.ts';
import { InvalidParametersError } from '../functions/shared/errors.ts';
import { formatRuleParameters, parseRuleParameters, RULE_PARAMETER_NAMES, type RuleParameters } from '../functions/shared/parameters.ts';
import { sweepEksNodes } from '../functions/shared/sweep.ts';
import { clientOptions, EXIT, explainAwsError, oneOf, parseCommandLine, parseOrExit, runAsProcess, UsageError, type CliIo } from './common.ts';
import { formatTable } from './table.ts';
import type { ComplianceType } from '../functions/shared/judge.ts';

const READ_ACTIONS = [
  'ec2:DescribeInstances',
  'ec2:DescribeLaunchTemplates',
  'ec2:DescribeLaunchTemplateVersions',
  'ec2:DescribeImages',
  'ec2:GetInstanceMetadataDefaults',
  'autoscaling:DescribeAutoScalingGroups',
  'autoscaling:DescribeLaunchConfigurations',
  'sts:GetCallerIdentity',
];

export const USAGE = `Usage: npm run scan -- [--region R] [--profile P] [--cluster NAME]... [--format table|json] [Param=Value]...

Reads every EKS node in one region and judges its IMDS settings exactly as the AWS Config rule
does; then the Auto Scaling groups and launch templates nodes launch from, and the account's IMDS
defaults, as the sources rule does. Read-only: ${READ_ACTIONS.join(', ')}.
Also says whether AWS Config records ${EC2_INSTANCE} there, and how often
(config:DescribeConfigurationRecorders and ...RecorderStatus; without those permissions the scan
still runs and says the recording is unknown).

Options:
  --region R        AWS region (default: AWS_REGION or the profile's region)
  --profile P       named profile from ~/.aws/config (default: the default credential chain)
  --cluster NAME    only nodes of this cluster; repeat or comma-separate for several
  --format F        table (default) or json
  -h, --help        this text
Rule parameters, as Config InputParameters: ${RULE_PARAMETER_NAMES.join(', ')}
  e.g. MinHopLimit=2 MaxHopLimit=3 RequireInstanceProfile=false

Exit status: 0 all compliant, 1 some non-compliant, 2 error.`;

interface ScanRow {
  readonly instanceId: string;
  readonly cluster: string | null;
  readonly nodeKind: string | null;
  readonly compliance: ComplianceType;
  readonly annotation: string;
}


interface SourceRow {
  readonly resourceType: string;
  readonly resourceId: string;
  readonly compliance: ComplianceType;
  readonly annotation: string;
}

interface ScanOptions {
  readonly region?: string;
  readonly profile?: string;
  readonly format: 'table' | 'json';
  readonly params: RuleParameters;
}

export async function runScan(argv: readonly string[], io: CliIo): Promise<number> {
  const options = parseOrExit('scan', USAGE, io, () => parseScanArgs(argv), (error) => error instanceof InvalidParametersError);
  if (typeof options === 'number') return options;

  const ec2 = new EC2Client(clientOptions(options));
  const autoscaling = new AutoScalingClient(clientOptions(options));
  const sts = new STSClient(clientOptions(options));
  const config = new ConfigServiceClient(clientOptions(options));
  // Read beside the sweep; it never fails the scan (an unreadable recorder is reported as unknown).
  const coverage = describeRecorderCoverage(config, [EC2_INSTANCE]);
  let recorder: RecorderCoverage | undefined;
  const rows: ScanRow[] = [];
  const sources: SourceRow[] = [];
  const counts: Record<ComplianceType, number> = { COMPLIANT: 0, NON_COMPLIANT: 0, NOT_APPLICABLE: 0 };
  const sourceCounts: Record<ComplianceType, number> = { COMPLIANT: 0, NON_COMPLIANT: 0, NOT_APPLICABLE: 0 };
  try {
    for await (const page of sweepEksNodes(ec2, options.params, new Date())) {
      for (const judgement of page) {
        counts[judgement.compliance]++;
        rows.push({
          instanceId: judgement.instanceId,
          cluster: judgement.node?.cluster ?? null,
          nodeKind: judgement.node?.kind ?? null,
          compliance: judgement.compliance,
          annotation: annotate(judgement),
        });
      }
      io.stderr(`scan: ${rows.length} instance(s) read\n`);
    }
    const { Account: accountId = '' } = await sts.send(new GetCallerIdentityCommand({}));
    const rule = createSourcesRule({ ec2, autoscaling, accountId, logger: SILENT });
    for await (const page of rule.sweep(options.params, new Date())) {
      for (const verdict of page) {
        sourceCounts[verdict.compliance]++;
        sources.push({ resourceType: verdict.resourceType, resourceId: verdict.resourceId, compliance: verdict.compliance, annotation: verdict.annotation });
      }
    }
    io.stderr(`scan: ${sources.length} source(s) read\n`);
    [recorder] = await coverage;
  } catch (error) {
    io.stderr(`scan: ${explainAwsError(error, { action: 'one of its read-only actions', needs: `The scan needs only read-only actions: ${READ_ACTIONS.join(', ')}.` })}\n`);
    return EXIT.error;
  } finally {
    // The recorder read settles before the clients go, whatever the sweep did.
    await coverage;
    ec2.destroy();
    autoscaling.destroy();
    sts.destroy();
    config.destroy();
  }

  // JSON carries the parameters as InputParameters, so a run can be repeated exactly.
  const report = { parameters: formatRuleParameters(options.params), recorder, counts, instances: rows, sourceCounts, sources };
  io.stdout(options.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : `${renderTable(rows, counts, recorder)}\n${renderSources(sources, sourceCounts)}`);
  return counts.NON_COMPLIANT + sourceCounts.NON_COMPLIANT > 0 ? EXIT.findings : EXIT.compliant;
}

const SILENT = { debug() {}, info() {}, warn() {}, error() {} };

const SHORT_TYPES: Readonly<Record<string, string>> = {
  'AWS::AutoScaling::AutoScalingGroup': 'group',
  'AWS::EC2::LaunchTemplate': 'template',
  'AWS::::Account': 'account',
};

function renderSources(rows: readonly SourceRow[], counts: Record<ComplianceType, number>): string {
  const table = formatTable(
    ['SOURCE', 'ID', 'RESULT', 'DETAIL'],
    rows.map((r) => [SHORT_TYPES[r.resourceType] ?? r.resourceType, r.resourceId, r.compliance, r.annotation]),
  );
  const summary = `${rows.length} source(s): ${counts.COMPLIANT} compliant, ${counts.NON_COMPLIANT} non-compliant, ${counts.NOT_APPLICABLE} not applicable`;
  return `${table}\n\n${summary}\n`;
}

function parseScanArgs(argv: readonly string[]): ScanOptions | 'help' {
  const parsed = parseCommandLine(argv, {
    region: { type: 'string' },
    profile: { type: 'string' },
    cluster: { type: 'string', multiple: true },
    format: { type: 'string', default: 'table' },
    help: { type: 'boolean', short: 'h' },
  });
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const format = oneOf('--format', values.format, ['table', 'json'] as const);
  const raw: Record<string, string> = {};
  for (const positional of positionals) {
    const match = /^([A-Za-z]+)=(.*)$/s.exec(positional);
    if (!match) throw new UsageError(`"${positional}" is not a rule parameter (write Param=Value, e.g. MinHopLimit=2)`);
    raw[match[1]!] = match[2]!;
  }
  const clusters = (values.cluster ?? []).flatMap((c) => c.split(','));
  if (clusters.length > 0) {
    if (raw.ClusterNames !== undefined) throw new UsageError('give clusters either with --cluster or ClusterNames=, not both');
    raw.ClusterNames = clusters.join(',');
  }
  return {
    ...(values.region ? { region: values.region } : {}),
    ...(values.profile ? { profile: values.profile } : {}),
    format,
    params: parseRuleParameters(raw),
  };
}

function renderTable(rows: readonly ScanRow[], counts: Record<ComplianceType, number>, recorder: RecorderCoverage | undefined): string {
  const table = formatTable(
    ['INSTANCE', 'CLUSTER', 'KIND', 'RESULT', 'DETAIL'],
    rows.map((r) => [r.instanceId, r.cluster ?? '-', r.nodeKind ?? '-', r.compliance, r.annotation]),
  );
  const summary = `${rows.length} instance(s): ${counts.COMPLIANT} compliant, ${counts.NON_COMPLIANT} non-compliant, ${counts.NOT_APPLICABLE} not applicable`;
  const recording = recorder === undefined ? '' : `AWS Config: ${describeCoverage(recorder)}\n`;
  return `${table}\n\n${summary}\n${recording}`;
}

if (import.meta.main) await runAsProcess('scan', runScan);
