// The code member stacks deploy can only come from the owner's buckets, under keys that name its
// sha256, written once; and with a signing profile, Lambda refuses anything it did not sign.
import { describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../scripts/build.ts';
import { bucketName, codeKey, codeSha256Parameter } from '../../scripts/package-org.ts';
import { conditionHolds, type RequestContext } from './iam-conditions.ts';
import { Evaluator, loadTemplate, props, resources } from './templates.ts';
import type { JsonObject } from './templates.ts';

const OWNER = '444455556666';
const REGION = 'ap-southeast-2';
const DIGEST = 'c'.repeat(64);
const member = loadTemplate('member');
const sam = loadTemplate('sam');
const artifactBucket = loadTemplate('artifactBucket');
const memberParameters = {
  ArtifactBucketPrefix: 'acme-artifacts',
  ArtifactBucketOwner: OWNER,
  EvaluateCodeSha256: DIGEST,
  EvaluateSourcesCodeSha256: DIGEST,
  RemediateCodeSha256: DIGEST,
  EnableRemediation: 'true',
};

describe('where member stacks take their code from', () => {
  const evaluator = new Evaluator(member, memberParameters, { 'AWS::Region': REGION, 'AWS::AccountId': '777788889999' });
  const bucketStack = new Evaluator(artifactBucket, { BucketPrefix: 'acme-artifacts', OrganizationId: 'o-abcdefghij' }, {
    'AWS::Region': REGION,
    'AWS::AccountId': OWNER,
  });

  it.each(FUNCTIONS)('$name: the owner\'s bucket in the stack\'s region, under the zip\'s sha256', (fn) => {
    const code = evaluator.value(props(member, fn.samResource)['Code']!) as JsonObject;
    const bucket = String(bucketStack.value(props(artifactBucket, 'ArtifactBucket')['BucketName']!));
    // The bucket the artifact stack creates, the one package:org writes to and the one members read agree.
    expect(code).toEqual({ S3Bucket: bucket, S3Key: codeKey(fn.name, DIGEST) });
    expect(bucket).toBe(bucketName('acme-artifacts', OWNER, REGION));
    expect(codeSha256Parameter(fn) in memberParameters).toBe(true);
  });

  it('creates the bucket in the owner\'s account regional namespace, which no other account can create names in', () => {
    expect(props(artifactBucket, 'ArtifactBucket')['BucketNamespace']).toBe('account-regional');
    expect(bucketName('acme-artifacts', OWNER, REGION)).toMatch(new RegExp(`-${OWNER}-${REGION}-an$`));
  });
});

describe('artifact bucket policy', () => {
  const evaluator = new Evaluator(artifactBucket, { BucketPrefix: 'acme-artifacts', OrganizationId: 'o-abcdefghij' });
  const document = evaluator.value(props(artifactBucket, 'ArtifactBucketPolicy')['PolicyDocument']!) as unknown as {
    Statement: { Effect: string; Action: string | string[]; Resource: string | string[]; Condition?: Parameters<typeof conditionHolds>[0] }[];
  };
  const denied = (action: string, key: string, context: RequestContext) =>
    document.Statement.some(
      (s) =>
        s.Effect === 'Deny' &&
        [s.Action].flat().includes(action) &&
        [s.Resource].flat().some((r) => r === `<ArtifactBucket.Arn>/eks-imds-guard/*` && key.startsWith('eks-imds-guard/')) &&
        conditionHolds(s.Condition, context),
    );
  const TLS = { 'aws:SecureTransport': 'true' };
  const key = codeKey('evaluate-imds', DIGEST);

  it('refuses any upload that could replace an existing artifact', () => {
    expect(denied('s3:PutObject', key, TLS)).toBe(true);
    expect(denied('s3:PutObject', key, { ...TLS, 's3:if-none-match': '*' })).toBe(false);
  });

  it('refuses deleting an artifact, which would free its key for other bytes', () => {
    expect(denied('s3:DeleteObject', key, TLS)).toBe(true);
    expect(denied('s3:DeleteObjectVersion', key, TLS)).toBe(true);
  });
});

describe.each([
  ['template.yaml', sam],
  ['infra/member-account.yaml', member],
] as const)('code signing in %s', (_file, template) => {
  const PROFILE = 'arn:aws:signer:ap-southeast-2:444455556666:/signing-profiles/imds_guard/a1B2c3D4e5';

  it('enforces the signing profile on both functions when one is given', () => {
    const evaluator = new Evaluator(template, { ...memberParameters, CodeSigningProfileVersionArn: PROFILE });
    expect(evaluator.exists('CodeSigningConfig')).toBe(true);
    expect(evaluator.value(props(template, 'CodeSigningConfig') as JsonObject)).toMatchObject({
      AllowedPublishers: { SigningProfileVersionArns: [PROFILE] },
      CodeSigningPolicies: { UntrustedArtifactOnDeployment: 'Enforce' },
    });
    for (const fn of FUNCTIONS) {
      expect(evaluator.value(props(template, fn.samResource)['CodeSigningConfigArn']!), fn.name).toBe('<CodeSigningConfig.CodeSigningConfigArn>');
    }
  });

  it('deploys unsigned code when no profile is given', () => {
    const evaluator = new Evaluator(template, memberParameters);
    expect(evaluator.exists('CodeSigningConfig')).toBe(false);
    for (const fn of FUNCTIONS) {
      expect(evaluator.value(resources(template)[fn.samResource]!.Properties as JsonObject)).not.toHaveProperty('CodeSigningConfigArn');
    }
  });
});
