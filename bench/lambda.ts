import type { Emulator } from '../emulator/index.ts';
import type { ContextSpec } from './worker-protocol.ts';

export const RULE_NAME = 'eks-imds-guard';
/** template.yaml: both functions are deployed with 256 MB. */
export const FUNCTION_MEMORY_MB = 256;
/** Lambda gives a function a full vCPU at 1,769 MB and CPU in proportion below that. */
export const FULL_VCPU_MEMORY_MB = 1769;

export const QUIET_TELEMETRY = { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' } as const;

/** A function's environment: the emulator's endpoint and fake keys, quiet Powertools, and `extra`. */
export function functionEnv(emulator: Emulator, extra: Record<string, string> = {}): Record<string, string> {
  return { ...emulator.clientEnv(), ...QUIET_TELEMETRY, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(FUNCTION_MEMORY_MB), ...extra };
}

export function contextSpec(emulator: Emulator, functionName: string, timeoutMs: number): ContextSpec {
  return {
    functionName,
    invokedFunctionArn: `arn:aws:lambda:${emulator.region}:${emulator.accountId}:function:${functionName}`,
    memoryMb: FUNCTION_MEMORY_MB,
    timeoutMs,
  };
}

/** How the benchmark starts execution environments: the built worker and extra Node flags for it. */
export interface WorkerRuntime {
  readonly worker: string;
  readonly nodeArgs: readonly string[];
}
