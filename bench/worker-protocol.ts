import { fork, type ChildProcess } from 'node:child_process';

/** What the worker needs to build a Lambda context (functions cannot cross the IPC channel). */
export interface ContextSpec {
  readonly functionName: string;
  readonly invokedFunctionArn: string;
  readonly memoryMb: number;
  readonly timeoutMs: number;
}

export type WorkerRequest =
  | { readonly type: 'load'; readonly module: string }
  | { readonly type: 'invoke'; readonly events: readonly unknown[]; readonly context: ContextSpec; readonly measureHeap: boolean }
  | { readonly type: 'exit' };

export type InvocationOutcome =
  | { readonly ok: true; readonly value: unknown; readonly wallMs: number; readonly cpuUs: number }
  | { readonly ok: false; readonly error: { name: string; message: string }; readonly wallMs: number; readonly cpuUs: number };

export interface HeapReport {
  /** heapUsed after a full GC, before the first event: the module's live set. */
  readonly startUsed: number;
  /** Largest heapUsed reached, garbage included: the size just before each GC, and at the end. */
  readonly peakUsed: number;
  /** Largest heapUsed just after a GC: what the run actually kept alive. */
  readonly maxLive: number;
  /** heapUsed after a full GC once the run is over: a leak shows here. */
  readonly retainedAfter: number;
  readonly gcCount: number;
}

export type WorkerReply =
  | { readonly type: 'loaded'; readonly initMs: number; readonly rssBytes: number }
  | {
      readonly type: 'invoked';
      readonly outcomes: readonly InvocationOutcome[];
      readonly wallMs: number;
      readonly cpuUs: number;
      readonly heap: HeapReport | undefined;
      /** process.resourceUsage().maxRSS: the process's true peak resident set, in bytes. */
      readonly maxRssBytes: number;
    }
  | { readonly type: 'bye' }
  | { readonly type: 'failed'; readonly error: { name: string; message: string } };

/**
 * V8 limits the Lambda Node.js runtime's bootstrap sets for a function's memory size: a tenth
 * for the young generation (half of it per semi-space), the rest for the old generation.
 */
export function lambdaHeapFlags(memoryMb: number): string[] {
  const newSpace = Math.floor(memoryMb / 10);
  return [`--max-semi-space-size=${Math.floor(newSpace / 2)}`, `--max-old-space-size=${memoryMb - newSpace}`];
}

/** A forked worker process standing in for one Lambda execution environment. */
export class ExecutionEnvironment {
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;
  #pending: { resolve: (reply: WorkerReply) => void; reject: (error: Error) => void } | undefined;

  private constructor(child: ChildProcess) {
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.on('message', (reply: WorkerReply) => {
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.resolve(reply);
    });
    child.once('exit', (code, signal) => {
      this.#pending?.reject(new Error(`benchmark worker exited (code ${code}, signal ${signal}) before answering`));
      this.#pending = undefined;
    });
  }

  /**
   * Forks the worker (bench/worker.ts built to plain JavaScript: running .ts would load Node's
   * type stripper, 17 MB of RSS that is not the function's) with exactly `env` (plus PATH) and
   * the V8 flags of a `memoryMb` Lambda, then imports `module`.
   */
  static async start(options: {
    worker: string;
    module: string;
    env: Record<string, string>;
    memoryMb: number;
    /** Extra Node flags for the worker, e.g. `--cpu-prof`. */
    nodeArgs?: readonly string[];
  }): Promise<{ environment: ExecutionEnvironment; initMs: number; rssAfterLoad: number }> {
    const { worker, module, env, memoryMb } = options;
    const child = fork(worker, [], {
      execPath: process.execPath,
      execArgv: ['--expose-gc', ...lambdaHeapFlags(memoryMb), ...(options.nodeArgs ?? [])],
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const environment = new ExecutionEnvironment(child);
    const reply = await environment.#request({ type: 'load', module });
    if (reply.type !== 'loaded') throw new Error(`loading ${module}: ${JSON.stringify(reply)}`);
    return { environment, initMs: reply.initMs, rssAfterLoad: reply.rssBytes };
  }

  async invoke(events: readonly unknown[], context: ContextSpec, measureHeap = false): Promise<Extract<WorkerReply, { type: 'invoked' }>> {
    const reply = await this.#request({ type: 'invoke', events, context, measureHeap });
    if (reply.type !== 'invoked') throw new Error(`invoke: ${JSON.stringify(reply)}`);
    return reply;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    if (this.#child.connected) this.#child.send({ type: 'exit' } satisfies WorkerRequest);
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5_000);
    await this.#exited;
    clearTimeout(timer);
  }

  #request(request: WorkerRequest): Promise<WorkerReply> {
    if (this.#pending !== undefined) throw new Error('one request at a time');
    return new Promise<WorkerReply>((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#child.send(request);
    });
  }
}
