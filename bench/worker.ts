/**
 * One Lambda execution environment, in its own process: the emulator (and its 50,000
 * instances) lives in the parent, so the heap and RSS measured here are the function's own.
 * The parent forks this file with the function's environment, sends `load` (the bundle to
 * import) and then `invoke` messages; each answer carries wall time, CPU time and memory.
 */
import type { Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { GCProfiler } from 'node:v8';
import type { ContextSpec, HeapReport, InvocationOutcome, WorkerReply, WorkerRequest } from './worker-protocol.ts';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

let handler: Handler | undefined;

process.on('message', (message: WorkerRequest) => {
  if (message.type === 'exit') process.exit(0);
  void answer(message).then(
    (reply) => process.send?.(reply),
    (error: unknown) => process.send?.({ type: 'failed', error: describeError(error) } satisfies WorkerReply),
  );
});

async function answer(message: WorkerRequest): Promise<WorkerReply> {
  switch (message.type) {
    case 'load': {
      const started = performance.now();
      const module = (await import(pathToFileURL(message.module).href)) as { handler?: Handler };
      if (typeof module.handler !== 'function') throw new Error(`${message.module} exports no handler`);
      handler = module.handler;
      const initMs = performance.now() - started;
      return { type: 'loaded', initMs, rssBytes: process.memoryUsage.rss() };
    }
    case 'invoke':
      return invoke(message.events, message.context, message.measureHeap);
    case 'exit':
      return { type: 'bye' };
  }
}

async function invoke(events: readonly unknown[], spec: ContextSpec, measureHeap: boolean): Promise<WorkerReply> {
  if (handler === undefined) throw new Error('invoke before load');
  // Settle the heap so every run starts from the same live set: the module and nothing else.
  if (measureHeap) globalThis.gc?.();
  const startUsed = process.memoryUsage().heapUsed;
  const profiler = measureHeap ? new GCProfiler() : undefined;
  profiler?.start();
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const outcomes: InvocationOutcome[] = [];
  for (const event of events) {
    const cpuBefore = process.cpuUsage();
    const t0 = performance.now();
    try {
      const value = await handler(event, lambdaContext(spec));
      outcomes.push({ ok: true, value, wallMs: performance.now() - t0, cpuUs: cpuSince(cpuBefore) });
    } catch (error) {
      outcomes.push({ ok: false, error: describeError(error), wallMs: performance.now() - t0, cpuUs: cpuSince(cpuBefore) });
    }
  }
  const wallMs = performance.now() - started;
  const cpuUs = cpuSince(cpuStart);
  const endUsed = process.memoryUsage().heapUsed;
  let heap: HeapReport | undefined;
  if (profiler !== undefined) {
    const statistics = profiler.stop()?.statistics ?? [];
    let peakUsed = Math.max(startUsed, endUsed);
    let maxLive = startUsed;
    for (const gc of statistics) {
      peakUsed = Math.max(peakUsed, gc.beforeGC.heapStatistics.usedHeapSize);
      maxLive = Math.max(maxLive, gc.afterGC.heapStatistics.usedHeapSize);
    }
    globalThis.gc?.();
    heap = { startUsed, peakUsed, maxLive, retainedAfter: process.memoryUsage().heapUsed, gcCount: statistics.length };
  }
  return { type: 'invoked', outcomes, wallMs, cpuUs, heap, maxRssBytes: process.resourceUsage().maxRSS * 1024 };
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(start);
  return user + system;
}

function lambdaContext(spec: ContextSpec): Context {
  const deadline = Date.now() + spec.timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: spec.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: spec.invokedFunctionArn,
    memoryLimitInMB: String(spec.memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${spec.functionName}`,
    logStreamName: `bench/[$LATEST]${randomUUID().replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function describeError(error: unknown): { name: string; message: string } {
  return error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) };
}
