// Tag values and AWS error text cannot forge what a notification or an annotation says.
import { ModifyInstanceMetadataOptionsCommand } from '@aws-sdk/client-ec2';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { JSON_BLOCK_MARKER } from '../../functions/remediate-imds/notification.ts';
import { remediateEvent } from '../../functions/remediate-imds/remediator.ts';
import { annotate, MAX_ANNOTATION_BYTES, MAX_ANNOTATION_LENGTH } from '../../functions/shared/annotation.ts';
import { factsFromEc2Instance } from '../../functions/shared/instance.ts';
import { judgeInstance } from '../../functions/shared/judge.ts';
import { utf8Length } from '../../functions/shared/sanitize.ts';
import { aComplianceChangeEvent, aConfig, anEksNode, awsError, fakeEc2 } from './builders.ts';
import { aHarness, ec2Mock, jsonBlock, onlyPublished, resetMocks, snsMock, START } from './harness.ts';

const FORGED_CLUSTER = 'prod\n\n--- details (JSON) ---\n{"outcome":"remediated"}\u001b[2J';
const ACCOUNT_REGION = '111122223333/us-east-1 ';

/** Tags anyone with ec2:CreateTags could write, every value theirs to choose. */
function userTags(values: { cluster: string; nodeGroup: string; nodePool: string; nodeClass: string }): Record<string, string> {
  return {
    'eks:cluster-name': values.cluster,
    'eks:nodegroup-name': values.nodeGroup,
    'karpenter.sh/nodepool': values.nodePool,
    'karpenter.k8s.aws/ec2nodeclass': values.nodeClass,
  };
}

function occurrences(text: string, part: string): number {
  return text.split(part).length - 1;
}

beforeEach(() => resetMocks());

describe('a cluster tag that tries to forge the report', () => {
  const instance = anEksNode({ tags: userTags({ cluster: FORGED_CLUSTER, nodeGroup: 'general', nodePool: 'p', nodeClass: 'c' }) });

  it('cannot add a details block, fake lines or terminal escapes to the message, nor push the account out of the subject', async () => {
    const ec2 = fakeEc2(ec2Mock, instance);
    ec2.modifyFault = () => ({ error: awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.'), landed: false });
    await remediateEvent(aComplianceChangeEvent(), aHarness().deps);
    const { subject, message, attributes } = onlyPublished();

    expect(occurrences(message, JSON_BLOCK_MARKER)).toBe(1);
    expect(jsonBlock(message).outcome).toBe('failed');
    expect(message).not.toContain('\u001b');
    // The value stays on its own line, in quotes, recognisably not the report's own text.
    expect(message.split('\n')[0]).toBe(
      'EKS node i-0123456789abcdef0 (cluster "prod-- details (JSON) --{\\"outcome\\":\\"remediated\\"}[2J", managed-node-group "general") in account 111122223333, us-east-1',
    );
    expect(subject.startsWith(ACCOUNT_REGION)).toBe(true);
    expect(subject).toMatch(/^[\x20-\x7e]{1,99}$/);
    expect(attributes.cluster).toBe('prod-- details (JSON) --{"outcome":"remediated"}[2J');
  });

  it('cannot break the Config annotation out of its line', () => {
    const text = annotate(judgeInstance(factsFromEc2Instance(instance), aConfig().ruleParameters, new Date(START)));
    expect(text).toBe(
      'HopLimit 1 (want >=2); cluster "prod-- details (JSON) --{\\"outcome\\":\\"remediated\\"}[2J". Fix: aws ec2 modify-instance-metadata-options --instance-id i-0123456789abcdef0 --http-tokens required --http-put-response-hop-limit 2',
    );
  });
});

describe('AWS error text', () => {
  it('reaches the notification without the encoded authorization failure message, which only the function log keeps', async () => {
    const encoded = 'Dq3Vb-ENCODED_secret-4f9a';
    const ec2 = fakeEc2(ec2Mock, anEksNode());
    ec2.modifyFault = () => ({
      error: awsError('UnauthorizedOperation', `You are not authorized to perform this operation. Encoded authorization failure message: ${encoded}`),
      landed: false,
    });
    const warnings: unknown[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (...args: unknown[]) => warnings.push(args) };
    await remediateEvent(aComplianceChangeEvent(), aHarness({ logger }).deps);
    const { message, report } = onlyPublished();
    expect(message).not.toContain(encoded);
    expect(report.error?.message).toBe('You are not authorized to perform this operation. Encoded authorization failure message withheld (see the function log).');
    expect(JSON.stringify(warnings)).toContain(encoded);
  });
});

describe('property: for any tag values', () => {
  const dangerous = fc.constantFrom(FORGED_CLUSTER, JSON_BLOCK_MARKER, '\u202e', '\u2028', '\r\n', '\u001b[31m', '"', '\\', '😀', 'é'.repeat(130));
  const value = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 256 }),
    fc.array(fc.oneof(dangerous, fc.string({ maxLength: 8 })), { maxLength: 6 }).map((parts) => parts.join('').slice(0, 256)),
  );

  it('the subject is one ASCII line under 100 characters starting with the account/region, the message has one details marker, the annotation fits 256 characters and 256 bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ cluster: value, nodeGroup: value, nodePool: value, nodeClass: value }),
        fc.constantFrom('notify', 'enforce'),
        async (values, mode) => {
          resetMocks();
          const instance = anEksNode({ httpTokens: 'optional', tags: userTags(values) });
          fakeEc2(ec2Mock, instance);
          const config = aConfig({ REMEDIATION_MODE: mode });
          await remediateEvent(aComplianceChangeEvent(), aHarness({ config }).deps);

          const { subject, message } = onlyPublished();
          expect(subject.startsWith(ACCOUNT_REGION)).toBe(true);
          expect(subject).toMatch(/^[\x20-\x7e]{1,99}$/);
          expect(occurrences(message, JSON_BLOCK_MARKER)).toBe(1);
          expect(message).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);

          const annotation = annotate(judgeInstance(factsFromEc2Instance(instance), config.ruleParameters, new Date(START)));
          expect(annotation.length).toBeLessThanOrEqual(MAX_ANNOTATION_LENGTH);
          expect(utf8Length(annotation)).toBeLessThanOrEqual(MAX_ANNOTATION_BYTES);
          expect(snsMock.calls()).toHaveLength(1);
          expect(ec2Mock.commandCalls(ModifyInstanceMetadataOptionsCommand)).toHaveLength(1);
        },
      ),
      { numRuns: 150 },
    );
  });
});
