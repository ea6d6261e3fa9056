// Headless Chromium for tests, driven over the DevTools protocol with Node's own WebSocket
// (no browser-automation dependency): open a file, collect console and log errors, evaluate
// expressions, take a full-page screenshot.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome'];

function onPath(name: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() || undefined : undefined;
}

/**
 * The browser binary: CHROMIUM_PATH, one on PATH, or (with CI=true, as root) Debian's `chromium`
 * installed with apt-get. Otherwise the reason it is unavailable.
 */
export function findChromium(): { path: string } | { missing: string } {
  const configured = process.env.CHROMIUM_PATH;
  if (configured) return { path: configured };
  for (const name of CANDIDATES) {
    const path = onPath(name);
    if (path) return { path };
  }
  if (process.env.CI !== 'true') return { missing: 'chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH; with CI=true the test installs it)' };
  if (process.getuid?.() !== 0) return { missing: 'chromium is not installed and apt-get needs root' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'chromium']]) {
    const run = spawnSync('apt-get', args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 540_000 });
    if (run.status !== 0) return { missing: `apt-get ${args.join(' ')} failed: ${(run.stderr || run.stdout || String(run.error)).trim().slice(-400)}` };
  }
  const path = onPath('chromium');
  return path ? { path } : { missing: 'apt-get installed chromium but it is not on PATH' };
}

export interface PageProblem {
  readonly source: string;
  readonly text: string;
}

type Message = { id?: number; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { message: string }; sessionId?: string };

export class Browser {
  readonly problems: PageProblem[] = [];
  readonly #process: ChildProcess;
  readonly #socket: WebSocket;
  readonly #profile: string;
  readonly #pending = new Map<number, { resolve: (value: Record<string, unknown>) => void; reject: (error: Error) => void }>();
  readonly #waiters: { method: string; resolve: () => void }[] = [];
  #nextId = 1;
  #session: string | undefined;

  private constructor(process: ChildProcess, socket: WebSocket, profile: string) {
    this.#process = process;
    this.#socket = socket;
    this.#profile = profile;
    socket.addEventListener('message', (event) => this.#receive(JSON.parse(String(event.data)) as Message));
  }

  static async launch(binary: string, width: number, height: number): Promise<Browser> {
    const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
    const child = spawn(
      binary,
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--hide-scrollbars', `--user-data-dir=${profile}`, '--remote-debugging-port=0', `--window-size=${width},${height}`, 'about:blank'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const endpoint = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`chromium did not start: ${text.slice(-500)}`)), 30_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const match = /DevTools listening on (ws:\/\/\S+)/.exec(text);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      child.once('exit', (code) => reject(new Error(`chromium exited with ${code}: ${text.slice(-500)}`)));
    });
    const socket = new WebSocket(endpoint);
    await new Promise((resolve, reject) => {
      socket.addEventListener('open', resolve, { once: true });
      socket.addEventListener('error', () => reject(new Error('cannot connect to chromium')), { once: true });
    });
    const browser = new Browser(child, socket, profile);
    const { targetId } = await browser.send('Target.createTarget', { url: 'about:blank' }, false);
    const { sessionId } = await browser.send('Target.attachToTarget', { targetId, flatten: true }, false);
    browser.#session = String(sessionId);
    await browser.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
    for (const domain of ['Page', 'Runtime', 'Log']) await browser.send(`${domain}.enable`);
    return browser;
  }

  send(method: string, params: Record<string, unknown> = {}, inPage = true): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    const message: Message = { id, method, params, ...(inPage && this.#session ? { sessionId: this.#session } : {}) };
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#socket.send(JSON.stringify(message));
    });
  }

  async open(url: string): Promise<void> {
    const loaded = new Promise<void>((resolve) => this.#waiters.push({ method: 'Page.loadEventFired', resolve }));
    await this.send('Page.navigate', { url });
    await loaded;
  }

  async evaluate<T>(expression: string): Promise<T> {
    const out = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
    if (out['exceptionDetails']) throw new Error(`evaluation failed: ${JSON.stringify(out['exceptionDetails'])}`);
    return (out['result'] as { value: T }).value;
  }

  /** The whole page, as PNG bytes. */
  async screenshot(): Promise<Buffer> {
    const metrics = await this.send('Page.getLayoutMetrics');
    const size = metrics['cssContentSize'] as { width: number; height: number };
    const out = await this.send('Page.captureScreenshot', {
      format: 'png',
      captureBeyondViewport: true,
      clip: { x: 0, y: 0, width: Math.ceil(size.width), height: Math.ceil(size.height), scale: 1 },
    });
    return Buffer.from(String(out['data']), 'base64');
  }

  async close(): Promise<void> {
    this.#socket.close();
    if (this.#process.exitCode === null) {
      const exited = new Promise((resolve) => this.#process.once('exit', resolve));
      this.#process.kill();
      await exited;
    }
    rmSync(this.#profile, { recursive: true, force: true, maxRetries: 5 });
  }

  #receive(message: Message): void {
    if (message.id !== undefined) {
      const pending = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (message.error) pending?.reject(new Error(message.error.message));
      else pending?.resolve(message.result ?? {});
      return;
    }
    const params = message.params ?? {};
    if (message.method === 'Runtime.consoleAPICalled' && ['error', 'warning', 'assert'].includes(String(params['type']))) {
      this.problems.push({ source: 'console', text: JSON.stringify(params['args']) });
    } else if (message.method === 'Runtime.exceptionThrown') {
      this.problems.push({ source: 'exception', text: JSON.stringify(params['exceptionDetails']) });
    } else if (message.method === 'Log.entryAdded') {
      const entry = params['entry'] as { level: string; source: string; text: string };
      if (entry.level === 'error' || entry.level === 'warning') this.problems.push({ source: `log:${entry.source}`, text: entry.text });
    }
    for (const [i, waiter] of this.#waiters.entries()) {
      if (waiter.method === message.method) {
        this.#waiters.splice(i, 1);
        waiter.resolve();
        break;
      }
    }
  }
}
