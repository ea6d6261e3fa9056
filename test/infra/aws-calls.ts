// Derives the AWS API calls a function makes from its source: follows relative imports from the
// handler and collects the `XxxCommand` / `paginateXxx` values imported from `@aws-sdk/client-*`.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT } from '../../scripts/build.ts';

/** SDK package suffix -> IAM service prefix. An unknown client fails the derivation loudly. */
export const IAM_PREFIX: Readonly<Record<string, string>> = {
  ec2: 'ec2',
  'config-service': 'config',
  sns: 'sns',
  cloudwatch: 'cloudwatch',
  sqs: 'sqs',
  eventbridge: 'events',
  'auto-scaling': 'autoscaling',
};

const IMPORT = /\b(import|export)\s+(type\s+)?(\{[^}]*\}|\*\s+as\s+\w+|\w+(?:\s*,\s*\{[^}]*\})?)\s+from\s+['"]([^'"]+)['"]/g;
const SIDE_EFFECT_IMPORT = /\bimport\s+['"](\.[^'"]+)['"]/g;

export interface DerivedCalls {
  /** IAM actions, e.g. `ec2:DescribeInstances`, sorted. */
  readonly actions: string[];
  /** Repo-relative files visited. */
  readonly files: string[];
}

function actionFor(name: string): string | undefined {
  if (/^[A-Z]\w*Command$/.test(name)) return name.slice(0, -'Command'.length);
  if (/^paginate[A-Z]\w*$/.test(name)) return name.slice('paginate'.length);
  return undefined;
}

export function deriveAwsCalls(entry: string): DerivedCalls {
  const actions = new Set<string>();
  const seen = new Set<string>();
  const queue = [resolve(REPO_ROOT, entry)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!existsSync(file)) throw new Error(`${relative(REPO_ROOT, file)} does not exist`);
    const source = readFileSync(file, 'utf8').replace(/^\s*\/\*[\s\S]*?\*\//gm, '').replace(/^\s*\/\/.*$/gm, '');
    for (const match of source.matchAll(IMPORT)) {
      const [, , typeOnly, clause, specifier] = match as unknown as [string, string, string | undefined, string, string];
      if (specifier.startsWith('.')) {
        queue.push(join(dirname(file), specifier));
        continue;
      }
      const sdk = /^@aws-sdk\/client-(.+)$/.exec(specifier);
      if (!sdk || typeOnly) continue;
      const prefix = IAM_PREFIX[sdk[1]!];
      if (!prefix) throw new Error(`${relative(REPO_ROOT, file)} uses ${specifier}: add its IAM prefix to IAM_PREFIX`);
      const namespace = /^\*\s+as\s+(\w+)$/.exec(clause.trim());
      const names = namespace
        ? [...source.matchAll(new RegExp(`\\b${namespace[1]}\\.(\\w+)`, 'g'))].map((m) => m[1]!)
        : (/\{([^}]*)\}/.exec(clause)?.[1] ?? '')
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== '' && !s.startsWith('type '))
            .map((s) => s.split(/\s+as\s+/)[0]!.trim());
      for (const name of names) {
        const action = actionFor(name);
        if (action) actions.add(`${prefix}:${action}`);
      }
    }
    for (const match of source.matchAll(SIDE_EFFECT_IMPORT)) queue.push(join(dirname(file), match[1]!));
  }
  return { actions: [...actions].sort(), files: [...seen].map((f) => relative(REPO_ROOT, f)).sort() };
}
