import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deriveAwsCalls } from '../infra/aws-calls.ts';
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
  it('uses exactly the commands the role allows: seven for instances, nine more for the sources', () => {
    // The handler and everything it imports, shared code included.
    const commands = deriveAwsCalls('functions/remediate-imds/handler.ts').actions.map((action) => action.split(':')[1]);
    expect([...commands].sort()).toEqual([
      'CreateLaunchTemplateVersion',
      'CreateTags',
      'DescribeAutoScalingGroups',
      'DescribeImages',
      'DescribeInstances',
      'DescribeLaunchConfigurations',
      'DescribeLaunchTemplateVersions',
      'DescribeLaunchTemplates',
      'GetInstanceMetadataDefaults',
      'GetMetricStatistics',
      'ModifyInstanceMetadataDefaults',
      'ModifyInstanceMetadataOptions',
      'ModifyLaunchTemplate',
      'Publish',
      'PutEvents',
      'SendMessage',
    ]);
  });
});
