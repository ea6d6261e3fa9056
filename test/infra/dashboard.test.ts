// Each member stack's CloudWatch dashboard shows only metrics that exist: the EMF metrics the
// functions' code emits (found by following imports from each handler), AWS/Lambda errors of the
// stack's own functions and the depth of its own dead-letter queue.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS, REPO_ROOT } from '../../scripts/build.ts';
import { deriveAwsCalls } from './aws-calls.ts';
import { Evaluator, isObject, loadTemplate, props, resource } from './templates.ts';
import type { Json } from './templates.ts';

/**
 * Metrics another engineer's change adds, named here ahead of it. Remove an entry once the code
 * emits it; the test then checks it like the rest.
 */
const ANNOUNCED_METRICS = new Set<string>([]);

interface Emitted {
  readonly service: string;
  readonly metrics: Set<string>;
  readonly dimensions: Set<string>;
}

/** What each function's code emits: `addMetric('Name'` and `addDimension('Name'` in the files it imports. */
function emittedByFunction(): Emitted[] {
  const template = loadTemplate('sam');
  return FUNCTIONS.map((fn) => {
    const variables = (props(template, fn.samResource)['Environment'] as { Variables: Record<string, string> }).Variables;
    const metrics = new Set<string>();
    const dimensions = new Set<string>(['service']); // Powertools' default dimension (POWERTOOLS_SERVICE_NAME)
    for (const file of deriveAwsCalls(fn.entry).files) {
      const source = readFileSync(join(REPO_ROOT, file), 'utf8');
      for (const [, name] of source.matchAll(/\.addMetric\(\s*'(\w+)'/g)) metrics.add(name!);
      for (const [, name] of source.matchAll(/\.addDimension\(\s*'(\w+)'/g)) dimensions.add(name!);
    }
    expect(variables['POWERTOOLS_METRICS_NAMESPACE']).toBe('EksImdsGuard');
    return { service: variables['POWERTOOLS_SERVICE_NAME']!, metrics, dimensions };
  });
}

interface NamedMetric {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Record<string, string>;
}

/** Every metric a dashboard body names: metric arrays and the SEARCH expressions. */
function namedMetrics(body: { widgets: { type: string; properties: { metrics?: unknown[][] } }[] }): NamedMetric[] {
  const found: NamedMetric[] = [];
  for (const widget of body.widgets) {
    for (const row of widget.properties.metrics ?? []) {
      const [first] = row;
      if (isObject(first as Json) && typeof (first as { expression?: unknown }).expression === 'string') {
        const expression = (first as { expression: string }).expression;
        const name = /MetricName="(\w+)"/.exec(expression)?.[1];
        const namespace = /Namespace="([\w/]+)"/.exec(expression)?.[1] ?? /SEARCH\('\{([\w/]+)[,}]/.exec(expression)?.[1];
        const schemaDimensions = /SEARCH\('\{[\w/]+,([\w,]+)\}/.exec(expression)?.[1]?.split(',') ?? [];
        if (name === undefined || namespace === undefined) throw new Error(`cannot read the metric of ${expression}`);
        found.push({ namespace, name, dimensions: Object.fromEntries(schemaDimensions.map((d) => [d, '*'])) });
        continue;
      }
      const parts = row.filter((item): item is string => typeof item === 'string');
      const [namespace, name, ...pairs] = parts;
      const dimensions: Record<string, string> = {};
      for (let i = 0; i + 1 < pairs.length; i += 2) dimensions[pairs[i]!] = pairs[i + 1]!;
      found.push({ namespace: namespace!, name: name!, dimensions });
    }
  }
  return found;
}

const EMITTED = emittedByFunction();

describe.each([
  ['template.yaml', loadTemplate('sam')],
  ['infra/member-account.yaml', loadTemplate('member')],
] as const)('dashboard of %s', (_file, template) => {
  const bodyUnder = (parameters: Record<string, string>) => {
    const evaluator = new Evaluator(template, { ArtifactBucketPrefix: 'artifacts', ArtifactVersion: '1', ...parameters });
    const text = evaluator.value(props(template, 'Dashboard')['DashboardBody']!);
    if (typeof text !== 'string') throw new Error('DashboardBody must resolve to a string');
    return JSON.parse(text) as Parameters<typeof namedMetrics>[0];
  };
  const withRemediation = bodyUnder({ RuleName: 'imds', EnableRemediation: 'true' });
  const metrics = namedMetrics(withRemediation);

  it('exists in every configuration, named per region (dashboard names are global to the account)', () => {
    expect(resource(template, 'Dashboard').Condition).toBeUndefined();
    expect(props(template, 'Dashboard')['DashboardName']).toEqual({ 'Fn::Sub': '${RuleName}-${AWS::Region}' });
    expect(() => bodyUnder({ EnableRemediation: 'false' })).not.toThrow();
  });

  it('names only EMF metrics the functions emit, with the service and dimensions they emit them with', () => {
    const own = metrics.filter((m) => m.namespace === 'EksImdsGuard');
    expect(own.length).toBeGreaterThan(0);
    for (const metric of own) {
      if (ANNOUNCED_METRICS.has(metric.name)) continue;
      const service = metric.dimensions['service'];
      const emitters = EMITTED.filter((e) => (service === undefined || service === '*' ? true : e.service === service) && e.metrics.has(metric.name));
      expect(emitters, `${metric.name} (service ${service ?? 'any'}) is not emitted by the code`).not.toHaveLength(0);
      for (const dimension of Object.keys(metric.dimensions)) {
        expect(emitters.some((e) => e.dimensions.has(dimension)), `${metric.name}: dimension ${dimension} is never added`).toBe(true);
      }
    }
  });

  it('shows what the issue asks for', () => {
    const names = metrics.map((m) => `${m.namespace}:${m.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'EksImdsGuard:Evaluations',
        'EksImdsGuard:SweepInstances',
        'EksImdsGuard:StaleResultsCleaned',
        'EksImdsGuard:UnchangedResultsSkipped',
        'EksImdsGuard:Remediations',
        'EksImdsGuard:SecondsToCompliant',
        'AWS/Lambda:Errors',
        'AWS/SQS:ApproximateNumberOfMessagesVisible',
      ]),
    );
    const byCompliance = metrics.filter((m) => m.name === 'Evaluations').map((m) => m.dimensions['ComplianceType']);
    expect(byCompliance.sort()).toEqual(['COMPLIANT', 'NON_COMPLIANT', 'NOT_APPLICABLE']);
    expect(metrics.find((m) => m.name === 'Remediations')?.dimensions).toHaveProperty('Outcome');
  });

  it("watches this stack's own functions and dead-letter queue", () => {
    const functionNames = metrics.filter((m) => m.namespace === 'AWS/Lambda').map((m) => m.dimensions['FunctionName']);
    const declared = FUNCTIONS.map((fn) => new Evaluator(template, { RuleName: 'imds', ArtifactBucketPrefix: 'a', ArtifactVersion: '1' }).value(props(template, fn.samResource)['FunctionName']!));
    expect(functionNames.sort()).toEqual([...declared].sort());
    // The queue is named by CloudFormation; the dashboard reads its name from the resource.
    expect(metrics.filter((m) => m.namespace === 'AWS/SQS').map((m) => m.dimensions)).toEqual([
      { QueueName: '<RemediationFailureQueue.QueueName>' },
      { QueueName: '<RemediationQueue.QueueName>' },
    ]);
  });

  it('is valid JSON with every widget inside the 24-column grid', () => {
    for (const widget of withRemediation.widgets as unknown as { x: number; width: number; height: number }[]) {
      expect(widget.x + widget.width).toBeLessThanOrEqual(24);
      expect(widget.height).toBeGreaterThan(0);
    }
  });
});
