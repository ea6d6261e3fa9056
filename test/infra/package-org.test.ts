import { describe, expect, it } from 'vitest';
import { unzipSync } from 'fflate';
import { UsageError, parseArgs, sha256, templateUrl, zipReproducibly } from '../../scripts/package-org.ts';

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

describe('parseArgs', () => {
  it('reads the flags', () => {
    expect(parseArgs(['--bucket-prefix', 'acme-artifacts', '--regions', 'us-east-1,eu-west-1', '--dry-run'], '0.1.0')).toEqual({
      bucketPrefix: 'acme-artifacts',
      regions: ['us-east-1', 'eu-west-1'],
      version: '0.1.0',
      dryRun: true,
    });
    expect(parseArgs(['--bucket-prefix=acme', '--regions=eu-west-1', '--version=2.0.0-rc.1'], '0.1.0').version).toBe('2.0.0-rc.1');
  });

  it.each([
    [[], /--bucket-prefix is required[\s\S]*--regions is required/],
    [['--bucket-prefix', 'Bad_Prefix', '--regions', 'us-east-1'], /--bucket-prefix "Bad_Prefix"/],
    [['--bucket-prefix', 'acme', '--regions', 'us-east-1,moon-1'], /"moon-1" is not a region/],
    [['--bucket-prefix', 'acme', '--regions'], /--regions needs a value/],
    [['--bucket-prefix', 'acme', '--regions', 'us-east-1', '--force'], /unknown argument "--force"/],
    [['--bucket-prefix', 'acme', '--regions', 'us-east-1', '--version', 'a/b'], /--version "a\/b"/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseArgs(argv, '0.1.0')).toThrow(UsageError);
    expect(() => parseArgs(argv, '0.1.0')).toThrow(message);
  });
});

describe('templateUrl', () => {
  it('points at the member template in the regional bucket', () => {
    expect(templateUrl('acme', 'eu-west-1', '1.2.3')).toBe(
      'https://acme-eu-west-1.s3.eu-west-1.amazonaws.com/eks-imds-guard/1.2.3/member-account.yaml',
    );
  });
});
