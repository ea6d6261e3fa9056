/**
 * `npm run scan`: the rule's judgement against a real account, read-only (DescribeInstances, and
 * AWS Config's recorder settings when allowed), with the default credential chain. Exit 0 = all
 * compliant, 1 = some non-compliant, 2 = error.
 */
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { EC2Client } from '@aws-sdk/client-ec2';
import { parseArgs } from 'node:util';
import { annotate } from '../functions/shared/annotation.ts';
import { CLIENT_DEFAULTS } from '../functions/shared/clients.ts';
import { EC2_INSTANCE } from '../functions/shared/ec2.ts';
import { InvalidParametersError } from '../functions/shared/errors.ts';
import { formatRuleParameters, parseRuleParameters, RULE_PARAMETER_NAMES, type RuleParameters } from '../functions/shared/parameters.ts';
import { describeCoverage, describeRecorderCoverage, type RecorderCoverage } from '../functions/shared/config-rule/recorder.ts';
import { sweepEksNodes } from '../functions/shared/sweep.ts';
import { formatTable } from './table.ts';
import type { ComplianceType } from '../functions/shared/judge.ts';

export const USAGE = `Usage: npm run scan -- [--region R] [--profile P] [--cluster NAME]... [--format table|json] [Param=Value]...

Reads every EKS node in one region (DescribeInstances) and judges its IMDS settings exactly
as the AWS Config rule does. Also says whether AWS Config records ${EC2_INSTANCE} there, and
how often (config:DescribeConfigurationRecorders and ...RecorderStatus; without those
permissions the scan still runs and says the recording is unknown).

Options:
  --region R        AWS region (default: AWS_REGION or the profile's region)
  --profile P       named profile from ~/.aws/config (default: the default credential chain)
  --cluster NAME    only nodes of this cluster; repeat or comma-separate for several
  --format F        table (default) or json
  -h, --help        this text
Rule parameters, as Config InputParameters: ${RULE_PARAMETER_NAMES.join(', ')}
  e.g. MinHopLimit=2 MaxHopLimit=3 RequireInstanceProfile=false

Exit status: 0 all compliant, 1 some non-compliant, 2 error.`;

export interface ScanIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

interface ScanRow {
  readonly instanceId: string;
  readonly cluster: string | null;
  readonly nodeKind: string | null;
  readonly compliance: ComplianceType;
  readonly annotation: string;
}

interface ScanOptions {
  readonly region?: string;
  readonly profile?: string;
  readonly format: 'table' | 'json';
  readonly params: RuleParameters;
}

class UsageError extends Error {
  override readonly name = 'UsageError';
}

export async function runScan(argv: readonly string[], io: ScanIo): Promise<number> {
  let options: ScanOptions;
  try {
    const parsed = parseScanArgs(argv);
    if (parsed === 'help') {
      io.stdout(`${USAGE}\n`);
      return 0;
    }
    options = parsed;
  } catch (error) {
    if (error instanceof UsageError || error instanceof InvalidParametersError) {
      io.stderr(`scan: ${error.message}\nSee: npm run scan -- --help\n`);
      return 2;
    }
    throw error;
  }

  const clientOptions = {
    ...CLIENT_DEFAULTS,
    ...(options.region ? { region: options.region } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
  };
  const ec2 = new EC2Client(clientOptions);
  const config = new ConfigServiceClient(clientOptions);
  const rows: ScanRow[] = [];
  const counts: Record<ComplianceType, number> = { COMPLIANT: 0, NON_COMPLIANT: 0, NOT_APPLICABLE: 0 };
  // Read beside the sweep; it never fails the scan (an unreadable recorder is reported as unknown).
  const coverage = describeRecorderCoverage(config, [EC2_INSTANCE]);
  let recorder: RecorderCoverage | undefined;
  try {
    for await (const page of sweepEksNodes(ec2, options.params)) {
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
    [recorder] = await coverage;
  } catch (error) {
    io.stderr(`scan: ${explainAwsError(error)}\n`);
    return 2;
  } finally {
    // The recorder read settles before the clients go, whatever the sweep did.
    await coverage;
    ec2.destroy();
    config.destroy();
  }

  // JSON carries the parameters as InputParameters, so a run can be repeated exactly.
  const report = { parameters: formatRuleParameters(options.params), recorder, counts, instances: rows };
  io.stdout(options.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderTable(rows, counts, recorder));
  return counts.NON_COMPLIANT > 0 ? 1 : 0;
}

function parseScanArgs(argv: readonly string[]): ScanOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        region: { type: 'string' },
        profile: { type: 'string' },
        cluster: { type: 'string', multiple: true },
        format: { type: 'string', default: 'table' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const format = values.format;
  if (format !== 'table' && format !== 'json') throw new UsageError(`--format must be table or json, got "${format}"`);
  const narrowed: ScanOptions['format'] = format;
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
    format: narrowed,
    params: parseRuleParameters(raw),
  };
}

/** Credential and region problems are the common first-run failures: say what to do. */
function explainAwsError(error: unknown): string {
  const { name, message } = error as Error;
  if (name === 'CredentialsProviderError' || /credential/i.test(message)) {
    return `no AWS credentials found (${message}). Set AWS_PROFILE or pass --profile, run "aws sso login", or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.`;
  }
  if (/region is missing/i.test(message)) return 'no AWS region: pass --region or set AWS_REGION.';
  if (name === 'UnauthorizedOperation' || name === 'AccessDenied') {
    return `not allowed to call ec2:DescribeInstances (${message}). The scan needs only that one read-only action.`;
  }
  return `${name}: ${message}`;
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

if (import.meta.main) {
  const code = await runScan(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  }).catch((error: unknown) => {
    process.stderr.write(`scan: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
    return 2;
  });
  process.exitCode = code;
}
