import { describe, expect, it } from 'vitest';
import { readAnnotation } from '../../cli/report/annotations.ts';

describe('readAnnotation', () => {
  it.each([
    [
      'cluster prod: HttpTokens optional (want required); HopLimit 1 (want >=2). Fix: aws ec2 modify-instance-metadata-options --instance-id i-1 --http-tokens required --http-put-response-hop-limit 2',
      { cluster: 'prod', failingChecks: ['HttpTokens', 'HopLimit'] },
    ],
    ['cluster prod: no instance profile (attach one)', { cluster: 'prod', failingChecks: ['InstanceProfile'] }],
    ['cluster dev: HttpEndpoint disabled (want enabled); no instance profile (attach one)', { cluster: 'dev', failingChecks: ['HttpEndpoint', 'InstanceProfile'] }],
    // Failing checks first, then the cluster (the wording may move things around).
    ['HopLimit 1 (want >=2); cluster prod', { cluster: 'prod', failingChecks: ['HopLimit'] }],
    ['launch template lt-0a1b2c3d4e5f67890 version 3: hop limit 1 below 2', { cluster: undefined, failingChecks: ['HopLimit'] }],
    ['something new nobody parses yet', { cluster: undefined, failingChecks: ['other'] }],
    ['cluster auto: HopLimit 1 (want >=2). EKS Auto Mode node: owned by EKS, not modified', { cluster: 'auto', failingChecks: ['HopLimit'] }],
  ])('reads the cluster and failing checks of %j', (annotation, expected) => {
    expect(readAnnotation(annotation, 'NON_COMPLIANT')).toMatchObject(expected);
  });

  it('reports no failing checks for results that are not NON_COMPLIANT', () => {
    expect(readAnnotation('cluster prod: compliant: HttpTokens required, HopLimit 2', 'COMPLIANT').failingChecks).toEqual([]);
  });

  it.each([
    ['cluster prod: exempt by tag imds-guard/exempt', { until: undefined, ignored: false }],
    ['cluster prod: HopLimit 1 (want >=2); exempt until 2027-01-31 (SEC-1234)', { until: '2027-01-31', ignored: false }],
    ['cluster prod: exempt (imds-guard/exempt until=2027-02-01)', { until: '2027-02-01', ignored: false }],
    ['cluster prod: HopLimit 1 (want >=2); exemption ignored: expired 2026-01-01', { until: undefined, ignored: true }],
    ['cluster prod: HopLimit 1 (want >=2); exemption until 2030-01-01 ignored (longer than ExemptionMaxDays 90)', { until: '2030-01-01', ignored: true }],
  ])('reads the exemption of %j', (annotation, exemption) => {
    expect(readAnnotation(annotation, 'NON_COMPLIANT').exemption).toEqual(exemption);
  });

  it('finds no exemption where none is mentioned', () => {
    expect(readAnnotation('cluster prod: HopLimit 1 (want >=2)', 'NON_COMPLIANT').exemption).toBeUndefined();
  });

  it('names the sources an annotation mentions, once each', () => {
    const facts = readAnnotation(
      'cluster prod: launch template lt-0a1b2c3d4e5f67890 version 3 of managed node group general: HopLimit 1 (want >=2); also node pool default, Auto Scaling group eks-general-1234.',
      'NON_COMPLIANT',
    );
    expect(facts.sources).toEqual(['launch template lt-0a1b2c3d4e5f67890', 'node group general', 'node pool default', 'Auto Scaling group eks-general-1234']);
  });
});
