import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../scripts/build.ts';
import { findCfnLint, IN_CI, SEARCHED } from '../../scripts/python-tools.ts';

/**
 * cfn-lint, the validator CloudFormation users run, over every template we ship: no errors and
 * no warnings (a suppression lives next to the resource with its reason). One run for all
 * templates, plus a broken template beside them, so the test also proves cfn-lint really reported.
 */
const cfnLint = findCfnLint();
const templates = ['template.yaml', ...readdirSync(join(REPO_ROOT, 'infra')).filter((f) => f.endsWith('.yaml')).map((f) => `infra/${f}`)];
const scratch = mkdtempSync(join(tmpdir(), 'cfn-lint-'));
const brokenTemplate = join(scratch, 'broken.yaml');

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('cfn-lint', () => {
  // cfn-lint takes 4 s on an idle machine and 30 s on a loaded CI runner: timing is not under test.
  it('lints template.yaml and every infra/*.yaml: no errors, no warnings', { timeout: 180_000 }, ({ skip }) => {
    if (cfnLint === undefined) {
      const message = `cfn-lint not found (searched ${SEARCHED})`;
      if (IN_CI) throw new Error(`${message}: CI must run it`);
      console.warn(`${message}: template lint skipped`);
      skip(message);
      return;
    }
    writeFileSync(brokenTemplate, 'Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      NotAProperty: 1\n');
    const run = spawnSync(cfnLint, ['--format', 'parseable', ...templates, brokenTemplate], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 170_000 });
    expect(run.error).toBeUndefined();
    const findings = run.stdout.split('\n').filter((line) => line !== '');
    const [control, ours] = partition(findings, (line) => line.startsWith(brokenTemplate));

    expect(control.join('\n')).toContain(':E3002:');
    expect(ours).toEqual([]);
    expect(run.stderr).toBe('');
  });
});

function partition<T>(items: readonly T[], predicate: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (predicate(item) ? yes : no).push(item);
  return [yes, no];
}
