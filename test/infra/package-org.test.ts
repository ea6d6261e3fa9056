import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unzipSync } from 'fflate';
import {
  ArtifactConflictError,
  UsageError,
  bucketName,
  codeKey,
  parseArgs,
  sha256,
  templateUrl,
  uploadArtifact,
  zipReproducibly,
} from '../../scripts/package-org.ts';

const files = () => ({
  'handler.mjs': new TextEncoder().encode('export const handler = async () => "ok";\n'),
  'handler.mjs.map': new TextEncoder().encode('{"version":3,"sources":[],"mappings":""}'),
});

describe('zipReproducibly', () => {
  it('gives the same bytes for the same input, whatever the order or the time', async () => {
    const first = zipReproducibly(files());
    await new Promise((r) => setTimeout(r, 1100));
    const { 'handler.mjs.map': map, 'handler.mjs': code } = files();
    const second = zipReproducibly({ 'handler.mjs.map': map, 'handler.mjs': code });
    expect(sha256(second)).toBe(sha256(first));
  });

  it('changes when the content changes', () => {
    const changed = { ...files(), 'handler.mjs': new TextEncoder().encode('export const handler = 1;\n') };
    expect(sha256(zipReproducibly(changed))).not.toBe(sha256(zipReproducibly(files())));
  });

  it('stores the files at the zip root, sorted', () => {
    const entries = unzipSync(zipReproducibly(files()));
    expect(Object.keys(entries)).toEqual(['handler.mjs', 'handler.mjs.map']);
    expect(new TextDecoder().decode(entries['handler.mjs'])).toContain('export const handler');
  });
});

const OWNER = ['--bucket-owner', '111122223333'];

describe('parseArgs', () => {
  it('reads the flags', () => {
    expect(parseArgs(['--bucket-prefix', 'acme-artifacts', '--bucket-owner', '111122223333', '--regions', 'us-east-1,eu-west-1', '--dry-run'], '0.1.0')).toEqual({
      bucketPrefix: 'acme-artifacts',
      bucketOwner: '111122223333',
      regions: ['us-east-1', 'eu-west-1'],
      version: '0.1.0',
      dryRun: true,
    });
    expect(parseArgs(['--bucket-prefix=acme', '--bucket-owner=111122223333', '--regions=eu-west-1', '--version=2.0.0-rc.1'], '0.1.0').version).toBe('2.0.0-rc.1');
  });

  it.each([
    [[], /--bucket-prefix is required[\s\S]*--bucket-owner is required[\s\S]*--regions is required/],
    [['--bucket-prefix', 'Bad_Prefix', ...OWNER, '--regions', 'us-east-1'], /--bucket-prefix "Bad_Prefix"/],
    [['--bucket-prefix', 'a'.repeat(31), ...OWNER, '--regions', 'us-east-1'], /must be 3-30/],
    [['--bucket-prefix', 'acme', '--bucket-owner', '1111', '--regions', 'us-east-1'], /--bucket-owner "1111" must be a 12-digit account id/],
    [['--bucket-prefix', 'acme', ...OWNER, '--regions', 'us-east-1,moon-1'], /"moon-1" is not a region/],
    [['--bucket-prefix', 'acme', ...OWNER, '--regions'], /--regions needs a value/],
    [['--bucket-prefix', 'acme', ...OWNER, '--regions', 'us-east-1', '--force'], /unknown argument "--force"/],
    [['--bucket-prefix', 'acme', ...OWNER, '--regions', 'us-east-1', '--version', 'a/b'], /--version "a\/b"/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseArgs(argv, '0.1.0')).toThrow(UsageError);
    expect(() => parseArgs(argv, '0.1.0')).toThrow(message);
  });
});

describe('templateUrl', () => {
  it('points at the member template in the regional bucket named after its owner', () => {
    expect(templateUrl('acme', '111122223333', 'eu-west-1', '1.2.3')).toBe(
      'https://acme-111122223333-eu-west-1-an.s3.eu-west-1.amazonaws.com/eks-imds-guard/1.2.3/member-account.yaml',
    );
  });

  it('keeps the longest bucket name within S3\'s 63 characters', () => {
    expect(bucketName('a'.repeat(30), '111122223333', 'ap-southeast-77').length).toBeLessThanOrEqual(63);
  });
});

/** A moto S3 server on a free loopback port: the uploads meet S3's own conditional-write behaviour. */
async function startMoto(): Promise<{ endpoint: string; process: ChildProcess }> {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
  const child = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await fetch(`${endpoint}/moto-api/`);
      return { endpoint, process: child };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill();
  throw new Error(`moto_server did not start on ${endpoint}`);
}

const MOTO_SERVER = '/root/.pyenv/versions/3.11.7/bin/moto_server';

describe('uploadArtifact against moto S3', () => {
  const owner = '111122223333';
  const bucket = bucketName('acme', owner, 'eu-west-1');
  const zip = zipReproducibly(files());
  const artifact = { key: codeKey('evaluate-imds', sha256(zip)), body: zip, contentType: 'application/zip' };
  let moto: Awaited<ReturnType<typeof startMoto>>;
  let client: S3Client;
  const sentHeaders: Record<string, string>[] = [];

  beforeAll(async () => {
    moto = await startMoto();
    client = new S3Client({ region: 'eu-west-1', endpoint: moto.endpoint, forcePathStyle: true });
    client.middlewareStack.add(
      (next) => async (args) => {
        sentHeaders.push({ ...(args.request as { headers: Record<string, string> }).headers });
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordHeaders' },
    );
    await client.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
  }, 20_000);
  afterAll(() => moto?.process.kill());

  it('stores the zip under its sha256, naming the expected owner and refusing to overwrite', async () => {
    sentHeaders.length = 0;
    expect(artifact.key).toBe(`eks-imds-guard/evaluate-imds/${sha256(zip)}.zip`);
    expect(await uploadArtifact(client, bucket, owner, artifact)).toBe('uploaded');
    const stored = await client.send(new GetObjectCommand({ Bucket: bucket, Key: artifact.key }));
    expect(sha256(await stored.Body!.transformToByteArray())).toBe(sha256(zip));
    expect(sentHeaders[0]).toMatchObject({ 'x-amz-expected-bucket-owner': owner, 'if-none-match': '*' });
    expect(sentHeaders[0]!['x-amz-checksum-sha256']).toBe(Buffer.from(sha256(zip), 'hex').toString('base64'));
  });

  it('accepts a re-run with the same bytes without writing them again', async () => {
    sentHeaders.length = 0;
    await uploadArtifact(client, bucket, owner, artifact).catch(() => undefined);
    expect(await uploadArtifact(client, bucket, owner, artifact)).toBe('already-present');
    for (const headers of sentHeaders) expect(headers['x-amz-expected-bucket-owner']).toBe(owner);
  });

  it('never replaces a key that holds other bytes, and says so', async () => {
    const key = 'eks-imds-guard/0.1.0/member-account.yaml';
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'planted' }));
    const attempt = uploadArtifact(client, bucket, owner, { key, body: new TextEncoder().encode('real'), contentType: 'text/yaml' });
    await expect(attempt).rejects.toThrow(ArtifactConflictError);
    await expect(attempt).rejects.toThrow(/already holds different content .*refusing to overwrite/);
    const stored = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await stored.Body!.transformToString()).toBe('planted');
  });
});
