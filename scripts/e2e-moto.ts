/**
 * The end-to-end suite against moto, the AWS emulator AWS users test with: starts
 * `python3 -m moto.server` on a free loopback port, runs every e2e file that reaches AWS through
 * test/e2e/target.ts with AWS_ENDPOINT_URL pointing at it, stops moto, and prints how many tests
 * ran against moto and why the others were skipped. `npm test` runs it after the main suite.
 * Without a python3 that has moto it prints that the run was skipped; with CI=true that fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestModule } from 'vitest/node';
import { startVitest } from 'vitest/node';
import { REPO_ROOT } from './build.ts';
import { findMotoPython, IN_CI, SEARCHED } from './python-tools.ts';

const LABEL = 'e2e against moto';
const STARTUP_TIMEOUT_MS = 30_000;

const python = findMotoPython();
if (python === undefined) {
  const message = `no python3 with moto found (searched ${SEARCHED})`;
  if (IN_CI) {
    console.error(`${LABEL}: FAILED, ${message}; CI must run it`);
    process.exit(1);
  }
  console.log(`${LABEL}: skipped, ${message}`);
  process.exit(0);
}

const motoVersion = spawnSync(python, ['-c', 'import moto; print(moto.__version__)'], { encoding: 'utf8' }).stdout.trim();
const port = await freePort();
const endpoint = `http://127.0.0.1:${port}`;
const moto = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
// moto logs a line per request: keep the tail, shown only if it fails to start.
let motoLog = '';
moto.stderr?.on('data', (chunk: Buffer) => {
  motoLog = (motoLog + chunk.toString()).slice(-8_000);
});

let exitCode = 1;
try {
  await waitUntilServing(moto, endpoint);
  console.log(`${LABEL}: moto ${motoVersion} (${python}) at ${endpoint}`);
  const summary = await runSuite(endpoint);
  printSummary(summary);
  exitCode = summary.failed === 0 && summary.errors === 0 && summary.passed > 0 ? 0 : 1;
} catch (error) {
  console.error(`${LABEL}: FAILED, ${(error as Error).message}`);
  if (motoLog !== '') console.error(`moto's last output:\n${motoLog}`);
} finally {
  await stop(moto);
}
process.exit(exitCode);

interface Summary {
  passed: number;
  failed: number;
  errors: number;
  skipped: Map<string, number>;
}

async function runSuite(awsEndpoint: string): Promise<Summary> {
  const summary: Summary = { passed: 0, failed: 0, errors: 0, skipped: new Map() };
  process.env.AWS_ENDPOINT_URL = awsEndpoint;
  const vitest = await startVitest('test', endpointFiles(), {
    watch: false,
    // moto is a Python server that loads each service on first use: set-up takes seconds, not ms.
    hookTimeout: 60_000,
    reporters: [
      'default',
      {
        onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>) {
          summary.errors += unhandledErrors.length;
          for (const module of modules) {
            summary.errors += module.errors().length;
            for (const test of module.children.allTests()) {
              const result = test.result();
              if (result.state === 'passed') summary.passed++;
              else if (result.state === 'skipped') {
                const reason = result.note ?? 'skipped without a reason';
                summary.skipped.set(reason, (summary.skipped.get(reason) ?? 0) + 1);
              } else summary.failed++;
            }
          }
        },
      },
    ],
  });
  await vitest.close();
  return summary;
}

/** The e2e files that reach AWS through target.ts (the demo test always uses its own emulator). */
function endpointFiles(): string[] {
  const dir = join(REPO_ROOT, 'test', 'e2e');
  return readdirSync(dir)
    .filter((file) => file.endsWith('.test.ts') && readFileSync(join(dir, file), 'utf8').includes("from './target.ts'"))
    .map((file) => join('test', 'e2e', file));
}

function printSummary(summary: Summary): void {
  const skipped = [...summary.skipped.values()].reduce((a, b) => a + b, 0);
  console.log(`${LABEL}: ${summary.passed} tests ran against moto and passed, ${summary.failed} failed, ${skipped} skipped`);
  for (const [reason, count] of summary.skipped) console.log(`  skipped ${count}: ${reason}`);
  if (summary.errors > 0) console.log(`  ${summary.errors} errors outside tests (see above)`);
  if (summary.passed === 0) console.log('  no test ran against moto: that is a failure');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no loopback port');
  return address.port;
}

async function waitUntilServing(child: ChildProcess, url: string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto exited with status ${child.exitCode} before serving`);
    try {
      if ((await fetch(`${url}/moto-api/`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`moto did not answer at ${url} within ${STARTUP_TIMEOUT_MS / 1000} s`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(5_000).then(() => child.kill('SIGKILL'))]);
}
