import { changeInvocation, startEmulator, syntheticFleet } from '../emulator/index.ts';
import { contextSpec, functionEnv, RULE_NAME, type DeployedFunction, type WorkerRuntime } from './lambda.ts';
import { median, quantile, sum } from './stats.ts';
import { ExecutionEnvironment } from './worker-protocol.ts';

export interface ChangeOptions {
  readonly events: number;
  readonly latencyMs: number;
  readonly runtime: WorkerRuntime;
  /** template.yaml's EvaluateFunction: the environment runs with its memory size. */
  readonly evaluate: DeployedFunction;
  readonly ruleBundle: string;
}

export interface ChangeResult {
  readonly events: number;
  readonly latencyMs: number;
  readonly ec2Calls: number;
  readonly configCalls: number;
  readonly otherCalls: number;
  readonly failures: number;
  /** CPU of the handler call (user + system), first event excluded: it pays the SDK's lazy set-up. */
  readonly cpuMsMedian: number;
  readonly cpuMsP95: number;
  readonly cpuMsFirst: number;
  readonly wallMsMedian: number;
  readonly wallMsFirst: number;
}

/** One warm execution environment handling `events` configuration-item changes one after another. */
export async function benchmarkChanges(options: ChangeOptions): Promise<ChangeResult> {
  const emulator = await startEmulator();
  let environment: ExecutionEnvironment | undefined;
  try {
    // Nodes of every kind, a third of them non-compliant: the judgement takes its usual paths.
    const ids = emulator.addInstances(syntheticFleet(options.events, { clusters: 3 }));
    const events = ids.map((instanceId) => changeInvocation(emulator, { ruleName: RULE_NAME, instanceId }));
    if (options.latencyMs > 0) emulator.faults.set('*', { latencyMs: options.latencyMs });
    const { memoryMb, timeoutMs } = options.evaluate;
    ({ environment } = await ExecutionEnvironment.start({
      ...options.runtime,
      module: options.ruleBundle,
      env: functionEnv(emulator, memoryMb),
      memoryMb,
    }));
    emulator.resetCalls();
    const reply = await environment.invoke(events, contextSpec(emulator, `${RULE_NAME}-evaluate`, memoryMb, timeoutMs));
    const requests = emulator.requests.entries();
    const callsOf = (service: string) => sum(requests.filter(([key]) => key.startsWith(`${service}:`)).map(([, n]) => n));
    const ec2 = callsOf('ec2');
    const config = callsOf('config');
    const cpu = reply.outcomes.map((o) => o.cpuUs / 1000);
    const wall = reply.outcomes.map((o) => o.wallMs);
    const warmCpu = cpu.slice(1);
    return {
      events: events.length,
      latencyMs: options.latencyMs,
      ec2Calls: ec2 / events.length,
      configCalls: config / events.length,
      otherCalls: (emulator.requests.total() - ec2 - config) / events.length,
      failures: reply.outcomes.filter((o) => !o.ok).length,
      cpuMsMedian: median(warmCpu),
      cpuMsP95: quantile(warmCpu, 0.95),
      cpuMsFirst: cpu[0] ?? Number.NaN,
      wallMsMedian: median(wall.slice(1)),
      wallMsFirst: wall[0] ?? Number.NaN,
    };
  } finally {
    await environment?.stop();
    await emulator.close();
  }
}
