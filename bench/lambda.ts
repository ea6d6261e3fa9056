import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Emulator } from '../emulator/index.ts';
import { REPO_ROOT } from '../scripts/build.ts';
import type { ContextSpec } from './worker-protocol.ts';

export const RULE_NAME = 'eks-imds-guard';
/** Lambda gives a function a full vCPU at 1,769 MB and CPU in proportion below that. */
export const FULL_VCPU_MEMORY_MB = 1769;

export const QUIET_TELEMETRY = { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' } as const;

/** A function as template.yaml deploys it. */
export interface DeployedFunction {
  readonly logicalId: string;
  readonly memoryMb: number;
  readonly timeoutMs: number;
}

/**
 * Reads a function's MemorySize and Timeout from template.yaml (plain scalars under the
 * resource's Properties; CloudFormation tags elsewhere need no parsing).
 * Throws when MemorySize or Timeout is missing, so a renamed resource cannot go unnoticed.
 */
export function deployedFunction(logicalId: string, templateText = readFileSync(join(REPO_ROOT, 'template.yaml'), 'utf8')): DeployedFunction {
  const start = templateText.indexOf(`\n  ${logicalId}:\n`);
  if (start === -1) throw new Error(`template.yaml has no resource ${logicalId}`);
  const rest = templateText.slice(start + 1);
  const end = rest.slice(1).search(/\n {2}\S/);
  const block = end === -1 ? rest : rest.slice(0, end + 1);
  const property = (name: string) => {
    const match = new RegExp(`^ {6}${name}:\\s*(\\d+)\\s*$`, 'm').exec(block);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  };
  const memoryMb = property('MemorySize');
  const timeoutS = property('Timeout');
  if (memoryMb === undefined || timeoutS === undefined) throw new Error(`template.yaml: ${logicalId} has no plain MemorySize or Timeout`);
  return { logicalId, memoryMb, timeoutMs: timeoutS * 1000 };
}

/**
 * A numeric parameter's Default in template.yaml, e.g. RemediationMaxConcurrency (the SQS event
 * source mapping's MaximumConcurrency). Throws when it has none.
 */
export function parameterDefault(name: string, templateText = readFileSync(join(REPO_ROOT, 'template.yaml'), 'utf8')): number {
  const start = templateText.indexOf(`\n  ${name}:\n`);
  if (start === -1) throw new Error(`template.yaml has no parameter ${name}`);
  const rest = templateText.slice(start + 1);
  const end = rest.slice(1).search(/\n {2}\S/);
  const block = end === -1 ? rest : rest.slice(0, end + 1);
  const match = /^ {4}Default:\s*(\d+)\s*$/m.exec(block);
  if (match?.[1] === undefined) throw new Error(`template.yaml: parameter ${name} has no numeric Default`);
  return Number(match[1]);
}

/**
 * The remediation function's environment as the templates set it (enforce mode, guard on,
 * default parameters), with its two queues created in the emulator for it.
 */
export function remediationEnv(emulator: Emulator, memoryMb: number, topicArn: string): { env: Record<string, string>; queueUrl: string; queueArn: string } {
  const deadLetterQueueUrl = emulator.createQueue('eks-imds-guard-remediation-failures');
  const queueUrl = emulator.createQueue('eks-imds-guard-remediation');
  const env = functionEnv(emulator, memoryMb, {
    CONFIG_RULE_NAME: RULE_NAME,
    TOPIC_ARN: topicArn,
    REMEDIATION_MODE: 'enforce',
    IMDSV1_GUARD: 'true',
    IMDSV1_LOOKBACK_HOURS: '24',
    RULE_PARAMETERS: '{}',
    REMEDIATION_QUEUE_URL: queueUrl,
    DEAD_LETTER_QUEUE_URL: deadLetterQueueUrl,
  });
  return { env, queueUrl, queueArn: emulator.sqs.queueArn(queueUrl) };
}

/** A function's environment: the emulator's endpoint and fake keys, quiet Powertools, and `extra`. */
export function functionEnv(emulator: Emulator, memoryMb: number, extra: Record<string, string> = {}): Record<string, string> {
  return { ...emulator.clientEnv(), ...QUIET_TELEMETRY, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb), ...extra };
}

export function contextSpec(emulator: Emulator, functionName: string, memoryMb: number, timeoutMs: number): ContextSpec {
  return {
    functionName,
    invokedFunctionArn: `arn:aws:lambda:${emulator.region}:${emulator.accountId}:function:${functionName}`,
    memoryMb,
    timeoutMs,
  };
}

/** How the benchmark starts execution environments: the built worker and extra Node flags for it. */
export interface WorkerRuntime {
  readonly worker: string;
  readonly nodeArgs: readonly string[];
}
