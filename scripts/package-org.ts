// Packages the functions for the organization StackSet: builds, zips each bundle reproducibly,
// and uploads the zips (under their sha256) and infra/member-account.yaml to every regional
// artifact bucket "<prefix>-<owner account>-<region>", checking the owner and never overwriting.
//
//   npm run package:org -- --bucket-prefix P --bucket-owner 111122223333 --regions us-east-1,eu-west-1 [--version V] [--dry-run]
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import type { Zippable } from 'fflate';
import type { S3Client } from '@aws-sdk/client-s3';
import { BUNDLE_FILE, FUNCTIONS, REPO_ROOT, buildBundles, formatSize } from './build.ts';

export const ARTIFACT_ROOT = 'eks-imds-guard';
export const MEMBER_TEMPLATE = 'infra/member-account.yaml';

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface PackageOptions {
  readonly bucketPrefix: string;
  /** The account that owns the artifact buckets: uploads refuse a bucket of any other account. */
  readonly bucketOwner: string;
  readonly regions: readonly string[];
  readonly version: string;
  readonly dryRun: boolean;
}

const USAGE =
  'usage: npm run package:org -- --bucket-prefix <prefix> --bucket-owner <account id> --regions <region,region,...> [--version <version>] [--dry-run]';

// Same constraints as the ArtifactBucketPrefix / ArtifactBucketOwner template parameters.
const BUCKET_PREFIX = /^[a-z0-9][a-z0-9.-]{1,28}[a-z0-9]$/;
const ACCOUNT_ID = /^\d{12}$/;
const VERSION = /^[A-Za-z0-9._-]{1,64}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-[0-9]$/;

/** Parses the command line; every problem is reported at once. */
export function parseArgs(argv: readonly string[], defaultVersion: string): PackageOptions {
  const problems: string[] = [];
  const values = new Map<string, string>();
  let dryRun = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--dry-run') {
      dryRun = true;
      continue;
    }
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (!['--bucket-prefix', '--bucket-owner', '--regions', '--version'].includes(flag)) {
      problems.push(`unknown argument ${JSON.stringify(arg)}`);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || value.startsWith('--')) {
      problems.push(`${flag} needs a value`);
      if (value !== undefined) i--;
      continue;
    }
    if (values.has(flag)) problems.push(`${flag} given twice`);
    values.set(flag, value);
  }

  const bucketPrefix = values.get('--bucket-prefix');
  if (bucketPrefix === undefined) problems.push('--bucket-prefix is required');
  else if (!BUCKET_PREFIX.test(bucketPrefix)) {
    problems.push(
      `--bucket-prefix ${JSON.stringify(bucketPrefix)} must be 3-30 lowercase letters, digits, "." or "-" (buckets are "<prefix>-<owner account>-<region>")`,
    );
  }

  const bucketOwner = values.get('--bucket-owner');
  if (bucketOwner === undefined) problems.push('--bucket-owner is required (the 12-digit account id that owns the artifact buckets)');
  else if (!ACCOUNT_ID.test(bucketOwner)) problems.push(`--bucket-owner ${JSON.stringify(bucketOwner)} must be a 12-digit account id`);

  const regionList = values.get('--regions');
  const regions = (regionList ?? '').split(',').map((r) => r.trim()).filter((r) => r !== '');
  if (regionList === undefined) problems.push('--regions is required');
  else if (regions.length === 0) problems.push('--regions lists no region');
  for (const region of regions) if (!REGION.test(region)) problems.push(`--regions: ${JSON.stringify(region)} is not a region name`);
  if (new Set(regions).size !== regions.length) problems.push('--regions lists a region twice');

  const version = values.get('--version') ?? defaultVersion;
  if (!VERSION.test(version)) problems.push(`--version ${JSON.stringify(version)} must be 1-64 letters, digits, ".", "_" or "-"`);

  if (problems.length > 0) throw new UsageError(`${problems.join('\n')}\n${USAGE}`);
  return { bucketPrefix: bucketPrefix!, bucketOwner: bucketOwner!, regions, version, dryRun };
}

// DOS timestamps are local time: a local-time Date gives the same bytes in every time zone.
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);
// Regular file, rw-r--r--, recorded as made on Unix (host OS 3) so unzip keeps the mode.
const FILE_ATTRS = (0o100644 << 16) >>> 0;

/** Zips files (name -> bytes) with sorted entries, fixed times and permissions: same input, same bytes. */
export function zipReproducibly(files: Readonly<Record<string, Uint8Array>>): Uint8Array {
  const entries: Zippable = {};
  for (const name of Object.keys(files).sort()) {
    entries[name] = [files[name]!, { mtime: FIXED_MTIME, attrs: FILE_ATTRS, os: 3, level: 9 }];
  }
  return zipSync(entries);
}

/** Zips every file of a bundle directory (handler.mjs and its source map) at the zip's root. */
export async function zipBundleDir(dir: string): Promise<Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (const name of await readdir(dir)) files[name] = new Uint8Array(await readFile(join(dir, name)));
  if (!(BUNDLE_FILE in files)) throw new Error(`${dir} has no ${BUNDLE_FILE}: run the build first`);
  return zipReproducibly(files);
}

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

export interface Artifact {
  readonly key: string;
  readonly body: Uint8Array;
  readonly contentType: string;
}

/** The member template parameter naming a function's code: EvaluateCodeSha256, RemediateCodeSha256. */
export const codeSha256Parameter = (fn: (typeof FUNCTIONS)[number]) => `${fn.samResource.replace(/Function$/, '')}CodeSha256`;

/** Content-addressed: the key names the zip's sha256, so what a stack deploys is fixed by its parameters. */
export const codeKey = (functionName: string, digest: string) => `${ARTIFACT_ROOT}/${functionName}/${digest}.zip`;

export interface Packaged {
  readonly artifacts: readonly Artifact[];
  /** Member template parameter -> sha256 of the zip it deploys. */
  readonly codeParameters: Readonly<Record<string, string>>;
}

/** Builds, zips and writes dist/artifacts/; returns what to upload and the code parameters. */
export async function packageArtifacts(version: string, distDir = join(REPO_ROOT, 'dist')): Promise<Packaged> {
  const artifactDir = join(distDir, 'artifacts');
  await mkdir(artifactDir, { recursive: true });
  const artifacts: Artifact[] = [];
  const codeParameters: Record<string, string> = {};
  const bundles = await buildBundles(distDir);
  for (const fn of FUNCTIONS) {
    const bundle = bundles.find((b) => b.name === fn.name)!;
    const zip = await zipBundleDir(join(distDir, fn.name));
    const digest = sha256(zip);
    await writeFile(join(artifactDir, `${fn.name}.zip`), zip);
    console.log(`${fn.name}: bundle ${formatSize(bundle.bytes)}, zip ${formatSize(zip.byteLength)}, sha256 ${digest}`);
    artifacts.push({ key: codeKey(fn.name, digest), body: zip, contentType: 'application/zip' });
    codeParameters[codeSha256Parameter(fn)] = digest;
  }
  const template = join(artifactDir, 'member-account.yaml');
  await copyFile(join(REPO_ROOT, MEMBER_TEMPLATE), template);
  artifacts.push({ key: `${ARTIFACT_ROOT}/${version}/member-account.yaml`, body: new Uint8Array(await readFile(template)), contentType: 'text/yaml' });
  return { artifacts, codeParameters };
}

// The owner's S3 account regional namespace ("-an"): no other account can create this name.
export const bucketName = (prefix: string, owner: string, region: string) => `${prefix}-${owner}-${region}-an`;

export function templateUrl(prefix: string, owner: string, region: string, version: string): string {
  const host = region.startsWith('cn-') ? `s3.${region}.amazonaws.com.cn` : `s3.${region}.amazonaws.com`;
  return `https://${bucketName(prefix, owner, region)}.${host}/${ARTIFACT_ROOT}/${version}/member-account.yaml`;
}

export type UploadResult = 'uploaded' | 'already-present';

/** Thrown when a key already holds other bytes: an upload never replaces what a stack may deploy. */
export class ArtifactConflictError extends Error {
  override name = 'ArtifactConflictError';
}

/**
 * Writes one artifact only if its key is free (If-None-Match: *), in a bucket that must belong to
 * `owner` (ExpectedBucketOwner on every request), with S3 checking the bytes it stored
 * (ChecksumSHA256). A key that exists is accepted only if it holds exactly these bytes.
 */
export async function uploadArtifact(client: Pick<S3Client, 'send'>, bucket: string, owner: string, artifact: Artifact): Promise<UploadResult> {
  const { GetObjectCommand, PutObjectCommand } = await import('@aws-sdk/client-s3');
  try {
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: artifact.key,
        Body: artifact.body,
        ContentType: artifact.contentType,
        ExpectedBucketOwner: owner,
        IfNoneMatch: '*',
        ChecksumSHA256: createHash('sha256').update(artifact.body).digest('base64'),
      }),
    );
    return 'uploaded';
  } catch (error) {
    if ((error as Error).name !== 'PreconditionFailed') throw error;
  }
  const existing = await client.send(new GetObjectCommand({ Bucket: bucket, Key: artifact.key, ExpectedBucketOwner: owner }));
  const bytes = await existing.Body!.transformToByteArray();
  if (sha256(bytes) !== sha256(artifact.body)) {
    throw new ArtifactConflictError(
      `s3://${bucket}/${artifact.key} already holds different content (sha256 ${sha256(bytes)}): refusing to overwrite it; publish under a new --version`,
    );
  }
  return 'already-present';
}

async function upload(options: PackageOptions, artifacts: readonly Artifact[]): Promise<void> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  for (const region of options.regions) {
    const client = new S3Client({ region });
    const bucket = bucketName(options.bucketPrefix, options.bucketOwner, region);
    for (const artifact of artifacts) {
      const result = await uploadArtifact(client, bucket, options.bucketOwner, artifact);
      console.log(`${result === 'uploaded' ? 'uploaded' : 'already present, same bytes:'} s3://${bucket}/${artifact.key}`);
    }
  }
}

async function main(): Promise<void> {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const options = parseArgs(process.argv.slice(2), pkg.version);
  const { artifacts, codeParameters } = await packageArtifacts(options.version);
  if (options.dryRun) {
    console.log(`dry run: nothing uploaded; artifacts are in dist/artifacts/`);
  } else {
    await upload(options, artifacts);
  }
  const home = options.regions[0]!;
  console.log(`\nTemplateURL=${templateUrl(options.bucketPrefix, options.bucketOwner, home, options.version)}`);
  console.log(`ArtifactBucketPrefix=${options.bucketPrefix}`);
  console.log(`ArtifactBucketOwner=${options.bucketOwner}`);
  for (const [parameter, digest] of Object.entries(codeParameters)) console.log(`${parameter}=${digest}`);
  console.log(`(functions: ${FUNCTIONS.map((f) => f.name).join(', ')})`);
  // infra/organization.yaml sets this on its StackSet; a StackSet made by hand needs it too.
  console.log('(member stacks need CAPABILITY_NAMED_IAM: the remediation role is named <RuleName>-remediate-<region>)');
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error instanceof UsageError ? error.message : `package:org failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  });
}
