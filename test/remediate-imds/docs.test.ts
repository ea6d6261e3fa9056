import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderSampleNotification } from './sample-report.ts';

const root = join(import.meta.dirname, '..', '..');

describe('docs/remediation.md', () => {
  it('shows the notification the code really renders', async () => {
    const doc = readFileSync(join(root, 'docs', 'remediation.md'), 'utf8');
    const { subject, message, attributes } = await renderSampleNotification();
    const sample = `Subject: ${subject}\n\nMessageAttributes: ${JSON.stringify(attributes)}\n\n${message}`;
    // The fenced block in the "Sample" section, verbatim (regenerate: node test/remediate-imds/sample-report.ts).
    expect(doc).toContain(`\`\`\`text\n${sample}\`\`\``);
  });
});

describe('AWS calls', () => {
  it('uses exactly the five commands the role allows', () => {
    const dir = join(root, 'functions', 'remediate-imds');
    const commands = new Set<string>();
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts'))) {
      for (const match of readFileSync(join(dir, file), 'utf8').matchAll(/\b([A-Z][A-Za-z0-9]+)Command\b/g)) {
        commands.add(match[1] as string);
      }
    }
    expect([...commands].sort()).toEqual([
      'CreateTags',
      'DescribeInstances',
      'GetMetricStatistics',
      'ModifyInstanceMetadataOptions',
      'Publish',
    ]);
  });
});
