// The HTML report of `npm run demo`'s fleet, rendered by a real browser: no console or CSP
// errors, every chart drawn, nothing loaded from anywhere, and a PNG of the page
// (REPORT_PNG=docs/report.png to refresh the README's screenshot).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Browser, findChromium } from './chromium.ts';

const WIDTH = 1200;
let chromium: ReturnType<typeof findChromium>;
let htmlFile: string;

beforeAll(() => {
  chromium = findChromium();
  const { AWS_ENDPOINT_URL: _external, ...env } = process.env;
  const demo = spawnSync(process.execPath, ['scripts/demo.ts'], { encoding: 'utf8', env, timeout: 120_000 });
  expect(demo.status, demo.stderr).toBe(0);
  const match = /^HTML report of this fleet: (.+\.html)$/m.exec(demo.stdout);
  expect(match, 'npm run demo prints the report path').not.toBeNull();
  htmlFile = match![1]!;
}, 1_200_000);

describe('the demo fleet HTML report in headless Chromium', () => {
  it('renders every section and chart, loads nothing and logs no error', async (context) => {
    if ('missing' in chromium) {
      context.skip(`skipped: ${chromium.missing}`);
      return;
    }
    const browser = await Browser.launch(chromium.path, WIDTH, 900);
    try {
      await browser.open(`file://${htmlFile}`);
      const page = await browser.evaluate<{
        title: string;
        headings: string[];
        charts: { id: string; width: number; height: number; bars: { label: string; value: number; width: number }[] }[];
        cards: string[];
        resources: number;
        overflow: boolean;
        text: string;
      }>(`(() => ({
        title: document.title,
        headings: [...document.querySelectorAll('h2')].map((h) => h.textContent),
        charts: [...document.querySelectorAll('svg.chart')].map((svg) => ({
          id: svg.id,
          width: svg.getBoundingClientRect().width,
          height: svg.getBoundingClientRect().height,
          bars: [...svg.querySelectorAll('g.bar')].map((g) => ({ label: g.dataset.label, value: Number(g.dataset.value), width: g.querySelector('rect').getBoundingClientRect().width })),
        })),
        cards: [...document.querySelectorAll('.card')].map((c) => c.innerText.replace(/\\s+/g, ' ')),
        resources: performance.getEntriesByType('resource').length,
        overflow: document.documentElement.scrollWidth > window.innerWidth,
        text: document.body.innerText,
      }))()`);

      expect(browser.problems).toEqual([]);
      expect(page.title).toMatch(/^EKS node IMDS compliance - account \d{12} \(us-east-1\)$/);
      expect(page.headings).toEqual([
        'Non-compliant nodes by account and cluster',
        'Failing checks',
        'Sources to fix first',
        'Exemptions',
        'Remediation outcomes',
        'Non-compliant resources',
      ]);
      // The demo's end: the sources steps and the launched node included; what EKS and Karpenter own stays for a person.
      expect(page.cards).toEqual(['7 non-compliant nodes', '7 compliant nodes', '0 not applicable', '3 non-compliant sources', '1 exemptions']);
      expect(page.charts.map((c) => c.id)).toEqual(['chart-accounts', 'chart-checks', 'chart-sources', 'chart-outcomes']);
      for (const chart of page.charts) {
        expect(chart.width, chart.id).toBeGreaterThan(300);
        expect(chart.height, chart.id).toBeGreaterThan(10);
        for (const bar of chart.bars) expect(bar.width, `${chart.id} ${bar.label}`).toBeGreaterThan(0);
      }
      const outcomes = page.charts.find((c) => c.id === 'chart-outcomes')!.bars;
      expect(outcomes.map((b) => [b.label, b.value])).toEqual([
        // Instance and sources reports alike (the EKS- and Karpenter-owned sources are skipped for a person).
        ['remediated', 6],
        ['skipped', 6],
        ['partially-remediated', 1],
      ]);
      // The longest bar is the largest value.
      expect(outcomes[0]!.width).toBeGreaterThan(outcomes[2]!.width);
      expect(page.charts.find((c) => c.id === 'chart-accounts')!.bars.map((b) => b.label.split(' · ')[1]).sort()).toEqual(['auto', 'dev', 'prod']);
      expect(page.text).toMatch(/exempt until \d{4}-\d{2}-\d{2} \(reason "SEC-1234"\)/);
      expect(page.text).toContain('42 IMDSv1 calls in the last 24 h');
      expect(page.resources).toBe(0);
      expect(page.overflow).toBe(false);

      const png = await browser.screenshot();
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(png.readUInt32BE(16)).toBe(WIDTH);
      expect(png.readUInt32BE(20)).toBeGreaterThan(1000);
      const out = join(mkdtempSync(join(tmpdir(), 'report-png-')), 'report.png');
      writeFileSync(out, png);
      if (process.env.REPORT_PNG) copyFileSync(out, process.env.REPORT_PNG);
    } finally {
      await browser.close();
    }
  }, 120_000);

  it("reports what the page's own policy blocks, so a clean run above means something", async (context) => {
    if ('missing' in chromium) {
      context.skip(`skipped: ${chromium.missing}`);
      return;
    }
    // The same report with an external image and an inline script added: the policy refuses both.
    const tampered = join(mkdtempSync(join(tmpdir(), 'report-csp-')), 'tampered.html');
    writeFileSync(tampered, readFileSync(htmlFile, 'utf8').replace('</main>', '<img src="http://127.0.0.1:9/x.png"><script>console.error("ran")</script></main>'));
    const browser = await Browser.launch(chromium.path, WIDTH, 900);
    try {
      await browser.open(`file://${tampered}`);
      await browser.evaluate('new Promise((resolve) => setTimeout(resolve, 200))');
      const text = browser.problems.map((p) => p.text).join('\n');
      expect(text).toMatch(/Content Security Policy/);
      expect(text).not.toContain('ran');
    } finally {
      await browser.close();
    }
  }, 120_000);
});
