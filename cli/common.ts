/** What the command-line tools (scan, report) share: arguments, AWS clients, errors, exit codes. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CLIENT_DEFAULTS } from '../functions/shared/clients.ts';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Exit status of every tool: 0 all compliant, 1 findings, 2 error. */
export const EXIT = { compliant: 0, findings: 1, error: 2 } as const;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** node:util parseArgs, strict, with its errors turned into UsageError. */
export function parseCommandLine<T extends NonNullable<ParseArgsConfig['options']>>(argv: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T {
  if (value !== undefined && (allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${flag} must be ${allowed.join(' or ')}, got "${String(value)}"`);
}

/**
 * Parses the command line: the options, or the exit code after printing the usage (--help) or
 * the problem (a usage error, or another error `isUsageError` accepts).
 */
export function parseOrExit<T>(
  tool: string,
  usage: string,
  io: CliIo,
  parse: () => T | 'help',
  isUsageError: (error: unknown) => boolean = () => false,
): T | number {
  try {
    const parsed = parse();
    if (parsed !== 'help') return parsed;
    io.stdout(`${usage}\n`);
    return EXIT.compliant;
  } catch (error) {
    if (!(error instanceof UsageError) && !isUsageError(error)) throw error;
    io.stderr(`${tool}: ${(error as Error).message}\nSee: npm run ${tool} -- --help\n`);
    return EXIT.error;
  }
}

/** SDK client settings from --region and --profile (the default chain when absent). */
export function clientOptions(options: { readonly region?: string; readonly profile?: string }) {
  return {
    ...CLIENT_DEFAULTS,
    ...(options.region ? { region: options.region } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
  };
}

export interface AwsCallContext {
  /** The IAM action that was being called, e.g. `ec2:DescribeInstances`. */
  readonly action: string;
  /** Whose data it reads, when it is not simply the caller's account: "account 111122223333 (us-east-1)". */
  readonly target?: string;
  /** What the tool needs, said once when access is denied. */
  readonly needs: string;
}

const ACCESS_DENIED = new Set(['UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException']);

/** Credential, region and permission problems are the common first-run failures: say what to do. */
export function explainAwsError(error: unknown, context: AwsCallContext): string {
  const { name, message } = error as Error;
  if (name === 'CredentialsProviderError' || /credential/i.test(message)) {
    return `no AWS credentials found (${message}). Set AWS_PROFILE or pass --profile, run "aws sso login", or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.`;
  }
  if (/region is missing/i.test(message)) return 'no AWS region: pass --region or set AWS_REGION.';
  if (ACCESS_DENIED.has(name)) {
    const target = context.target ? ` for ${context.target}` : '';
    return `not allowed to call ${context.action}${target} (${message}). ${context.needs}`;
  }
  return `${name}: ${message}`;
}

/** Runs a tool as the process: its exit code, or 2 with the stack on an unexpected error. */
export async function runAsProcess(tool: string, run: (argv: readonly string[], io: CliIo) => Promise<number>): Promise<void> {
  process.exitCode = await run(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  }).catch((error: unknown) => {
    process.stderr.write(`${tool}: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.error;
  });
}
