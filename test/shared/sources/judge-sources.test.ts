import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { judgeAccountDefaults } from '../../../functions/shared/sources/account-defaults.ts';
import { judgeAutoScalingGroup, type GroupLaunch } from '../../../functions/shared/sources/auto-scaling-group.ts';
import { groupFromConfigurationItem, templateFromConfigurationItem } from '../../../functions/shared/sources/facts.ts';
import {
  NO_ACCOUNT_PREFERENCE,
  resolveLaunchMetadata,
  type AccountDefaults,
} from '../../../functions/shared/sources/launch-metadata.ts';
import {
  judgeLaunch,
  judgeLaunchTemplate,
  resolveTemplateVersion,
  type LaunchTemplateFacts,
  type LaunchTemplateVersionFacts,
} from '../../../functions/shared/sources/launch-template.ts';
import { parseRuleParameters } from '../../../functions/shared/parameters.ts';
import { aLaunchTemplateItem, anAutoScalingGroupItem, managedNodeGroupTags } from '../../builders/sources.ts';

const params = parseRuleParameters({});
const account = (patch: Partial<AccountDefaults> = {}): AccountDefaults => ({ ...NO_ACCOUNT_PREFERENCE, ...patch });

describe('resolveLaunchMetadata: EC2 order of precedence, option by option', () => {
  it.each([
    // declared, account, AMI ImdsSupport, expected [tokens, source], [hop, source], [endpoint, source]
    [{}, {}, undefined, ['optional', 'EC2 default'], [1, 'EC2 default'], ['enabled', 'EC2 default']],
    [{}, {}, 'v2.0', ['required', 'AMI'], [2, 'AMI'], ['enabled', 'EC2 default']],
    // The EC2 User Guide's example 1: account hop limit 1 beats the AMI's 2; the AMI still sets tokens.
    [{}, { httpPutResponseHopLimit: 1 }, 'v2.0', ['required', 'AMI'], [1, 'account default'], ['enabled', 'EC2 default']],
    // Example 2: what the launch sets wins over the AMI.
    [{ httpTokens: 'optional' }, { httpPutResponseHopLimit: 1 }, 'v2.0', ['optional', 'launch template'], [1, 'account default'], ['enabled', 'EC2 default']],
    [{}, { httpTokens: 'required', httpPutResponseHopLimit: 2, httpEndpoint: 'disabled' }, undefined, ['required', 'account default'], [2, 'account default'], ['disabled', 'account default']],
    [{ httpTokens: 'required', httpPutResponseHopLimit: 3, httpEndpoint: 'enabled' }, { httpTokens: 'optional', httpPutResponseHopLimit: 1 }, 'v2.0', ['required', 'launch template'], [3, 'launch template'], ['enabled', 'launch template']],
  ] as const)('declared %j, account %j, AMI %s', (declared, accountPatch, imdsSupport, tokens, hop, endpoint) => {
    const ami = imdsSupport === undefined ? undefined : { imageId: 'ami-0123456789abcdef0', imdsSupport };
    const resolved = resolveLaunchMetadata(declared, 'launch template', account(accountPatch), ami);
    expect([resolved.httpTokens.value, resolved.httpTokens.source]).toEqual(tokens);
    expect([resolved.httpPutResponseHopLimit.value, resolved.httpPutResponseHopLimit.source]).toEqual(hop);
    expect([resolved.httpEndpoint.value, resolved.httpEndpoint.source]).toEqual(endpoint);
  });
});

describe('judgeAccountDefaults', () => {
  it.each([
    [{ httpTokens: 'required', httpPutResponseHopLimit: 2 }, {}, 'COMPLIANT'],
    [{ httpTokens: 'required', httpPutResponseHopLimit: 1 }, {}, 'NON_COMPLIANT'],
    [{ httpTokens: 'required', httpPutResponseHopLimit: 1 }, { MinHopLimit: '1', MaxHopLimit: '1' }, 'COMPLIANT'],
    [{ httpTokens: 'optional', httpPutResponseHopLimit: 2 }, {}, 'NON_COMPLIANT'],
    [{}, {}, 'NON_COMPLIANT'],
    [{ httpTokens: 'required', httpPutResponseHopLimit: 2, httpEndpoint: 'disabled' }, {}, 'NON_COMPLIANT'],
    [{ httpTokens: 'required', httpPutResponseHopLimit: 2, httpEndpoint: 'disabled' }, { RequireHttpEndpoint: 'false' }, 'COMPLIANT'],
  ] as const)('%j with %j is %s', (defaults, raw, compliance) => {
    expect(judgeAccountDefaults('111122223333', account(defaults), parseRuleParameters(raw)).compliance).toBe(compliance);
  });

  it('says what is missing and gives the exact command', () => {
    const judgement = judgeAccountDefaults('111122223333', account(), params);
    expect(judgement).toMatchObject({ resourceType: 'AWS::::Account', resourceId: '111122223333' });
    expect(judgement.annotation).toBe(
      'account 111122223333 IMDS defaults: HttpTokens no preference (want required); HopLimit no preference (want >=2). ' +
        'Fix: aws ec2 modify-instance-metadata-defaults --http-tokens required --http-put-response-hop-limit 2',
    );
  });

  it('names the declarative policy instead of a command the account cannot run', () => {
    const judgement = judgeAccountDefaults('111122223333', account({ httpTokens: 'optional', managedBy: 'declarative-policy' }), params);
    expect(judgement.annotation).toContain('(managed by a declarative policy)');
    expect(judgement.annotation).toContain("change the organization's EC2 declarative policy");
    expect(judgement.annotation).not.toContain('modify-instance-metadata-defaults');
    const compliant = judgeAccountDefaults('111122223333', account({ httpTokens: 'required', httpPutResponseHopLimit: 2, managedBy: 'declarative-policy' }), params);
    expect(compliant.annotation).toContain('managed by a declarative policy');
  });
});

const template = (patch: Partial<LaunchTemplateFacts> = {}): LaunchTemplateFacts => ({
  launchTemplateId: 'lt-0abc1234def567890',
  launchTemplateName: 'prod-nodes',
  tags: { 'eks:cluster-name': 'prod' },
  defaultVersion: 2,
  latestVersion: 4,
  ...patch,
});
const version = (metadata: LaunchTemplateVersionFacts['metadata'], patch: Partial<LaunchTemplateVersionFacts> = {}): LaunchTemplateVersionFacts => ({
  versionNumber: 2,
  metadata,
  imageId: undefined,
  instanceTags: {},
  description: undefined,
  ...patch,
});

describe('resolveTemplateVersion', () => {
  it.each([
    [undefined, 2],
    ['', 2],
    ['$Default', 2],
    ['$Latest', 4],
    ['3', 3],
    ['three', undefined],
  ])('%s resolves to %s', (requested, expected) => {
    expect(resolveTemplateVersion(template(), requested)).toBe(expected);
  });
});

describe('judgeLaunchTemplate', () => {
  it('is NOT_APPLICABLE without a node tag on the template or its instances', () => {
    const judged = judgeLaunchTemplate({ template: template({ tags: {} }), version: version({}), ami: undefined, account: account() }, params);
    expect(judged.compliance).toBe('NOT_APPLICABLE');
  });

  it('finds node templates by the tags they give instances', () => {
    const judged = judgeLaunchTemplate(
      { template: template({ tags: {} }), version: version({}, { instanceTags: { 'kubernetes.io/cluster/prod': 'owned' } }), ami: undefined, account: account() },
      params,
    );
    expect(judged.compliance).toBe('NON_COMPLIANT');
  });

  it('says where each value a template leaves out comes from, and gives the new version command', () => {
    const judged = judgeLaunchTemplate(
      { template: template(), version: version({ httpTokens: 'required' }), ami: undefined, account: account({ httpPutResponseHopLimit: 1 }) },
      params,
    );
    expect(judged.compliance).toBe('NON_COMPLIANT');
    // The full command and the default switch do not fit in 256 characters: the fix keeps its facts in prose.
    expect(judged.annotation).toBe(
      'cluster "prod": lt-0abc1234def567890 v2 ($Default): HopLimit not set: account default 1 applies (want >=2). ' +
        'Fix: new version v5 from v2 with MetadataOptions HttpTokens=required,HttpPutResponseHopLimit=2, made the default',
    );
    const launch = judgeLaunch({ httpTokens: 'required' }, 'launch template', account({ httpPutResponseHopLimit: 1 }), undefined, params);
    expect(launch.failures).toEqual(['HopLimit not set: account default 1 applies (want >=2)']);
    expect(judged.annotation.length).toBeLessThanOrEqual(256);
  });

  it('is COMPLIANT when the account defaults fill the gaps correctly', () => {
    const judged = judgeLaunchTemplate(
      { template: template(), version: version({}), ami: undefined, account: account({ httpTokens: 'required', httpPutResponseHopLimit: 2 }) },
      params,
    );
    expect(judged.compliance).toBe('COMPLIANT');
    expect(judged.annotation).toContain('HttpTokens not set: account default required applies');
  });

  it('sends Karpenter templates to the EC2NodeClass with a YAML snippet, judging $Latest', () => {
    const karpenter = template({ tags: { 'karpenter.k8s.aws/cluster': 'prod', 'karpenter.k8s.aws/ec2nodeclass': 'default' } });
    const judged = judgeLaunchTemplate(
      { template: karpenter, version: version({ httpTokens: 'required', httpPutResponseHopLimit: 1 }, { versionNumber: 4 }), ami: undefined, account: account() },
      params,
    );
    expect(judged.annotation).toContain('Karpenter EC2NodeClass "default"');
    expect(judged.annotation).toContain('v4 ($Latest)');
    expect(judged.annotation).toContain('spec: {metadataOptions: {httpTokens: required, httpPutResponseHopLimit: 2}}');
  });

  it('never proposes editing a template EKS owns', () => {
    const eks = template({ tags: managedNodeGroupTags() });
    const judged = judgeLaunchTemplate({ template: eks, version: version({ httpPutResponseHopLimit: 1 }), ami: undefined, account: account() }, params);
    expect(judged.annotation).toContain('Owned by EKS');
    expect(judged.annotation).toContain('aws eks update-nodegroup-version --cluster-name prod --nodegroup-name ng-general');
    expect(judged.annotation).not.toContain('create-launch-template-version');
  });

  it('honours ClusterNames and the exemption tag', () => {
    const input = { template: template(), version: version({}), ami: undefined, account: account() };
    expect(judgeLaunchTemplate(input, parseRuleParameters({ ClusterNames: 'staging' })).compliance).toBe('NOT_APPLICABLE');
    // An exemption never hides a finding: an active one says the source is not remediated, a bad one why it does not count.
    const active = { ...input, template: template({ tags: { 'eks:cluster-name': 'prod', 'imds-guard/exempt': 'until=2026-12-01;reason=migration' } }) };
    const judged = judgeLaunchTemplate(active, params, new Date('2026-11-20T00:00:00Z'));
    expect(judged.compliance).toBe('NON_COMPLIANT');
    expect(judged.annotation).toContain('exempt until 2026-12-01 (reason "migration"): not remediated');
    const bad = { ...input, template: template({ tags: { 'eks:cluster-name': 'prod', 'imds-guard/exempt': 'yes' } }) };
    expect(judgeLaunchTemplate(bad, params).annotation).toContain('exemption ignored: no expiry');
  });
});

describe('judgeAutoScalingGroup over configuration items shaped like AWS Config records them', () => {
  const launch = (ref: Extract<GroupLaunch, { kind: 'launch-template' }>['ref'], metadata: LaunchTemplateVersionFacts['metadata'], number = 3): GroupLaunch => ({
    kind: 'launch-template',
    ref,
    template: template({ tags: {}, defaultVersion: 1, latestVersion: 3 }),
    version: version(metadata, { versionNumber: number }),
    ami: undefined,
  });

  it('reads the template a managed node group launches from the item, and gives the EKS command', () => {
    const item = anAutoScalingGroupItem();
    const group = groupFromConfigurationItem(item.resourceId, item.configuration ?? undefined, item.tags);
    expect(group.launchTemplates).toEqual([{ launchTemplateId: 'lt-0abc1234def567890', launchTemplateName: 'eks-a4c9b2f1', version: '3' }]);
    const ref = group.launchTemplates[0];
    if (ref === undefined) throw new Error('no template');
    const judged = judgeAutoScalingGroup(group, [launch(ref, { httpTokens: 'required', httpPutResponseHopLimit: 1 })], account(), params);
    expect(judged).toMatchObject({ resourceType: 'AWS::AutoScaling::AutoScalingGroup', compliance: 'NON_COMPLIANT' });
    expect(judged.annotation).toContain('cluster "prod": EKS node group "ng-general"');
    expect(judged.annotation).toContain('aws eks update-nodegroup-version --cluster-name prod --nodegroup-name ng-general');
    expect(judged.annotation.length).toBeLessThanOrEqual(256);
  });

  it('reads every template of a mixed instances policy, overrides included', () => {
    const item = anAutoScalingGroupItem({
      mixedInstancesPolicy: {
        launchTemplate: { launchTemplateId: 'lt-0aaaaaaaaaaaaaaaa', version: '$Latest' },
        overrides: [undefined, { launchTemplateId: 'lt-0bbbbbbbbbbbbbbbb', version: '$Default' }],
      },
    });
    const group = groupFromConfigurationItem(item.resourceId, item.configuration ?? undefined, item.tags);
    expect(group.launchTemplates.map((r) => [r.launchTemplateId, r.version])).toEqual([
      ['lt-0aaaaaaaaaaaaaaaa', '$Latest'],
      ['lt-0bbbbbbbbbbbbbbbb', '$Default'],
    ]);
  });

  it('is NON_COMPLIANT when any template it launches fails, naming that one', () => {
    const self = { 'kubernetes.io/cluster/prod': 'owned' };
    const group = { name: 'self-managed', tags: self, launchTemplates: [], launchConfigurationName: undefined };
    const good = launch({ launchTemplateId: 'lt-0abc1234def567890', launchTemplateName: undefined, version: '$Latest' }, { httpTokens: 'required', httpPutResponseHopLimit: 2 });
    const bad = launch({ launchTemplateId: 'lt-0abc1234def567890', launchTemplateName: undefined, version: '2' }, { httpTokens: 'optional', httpPutResponseHopLimit: 2 }, 2);
    const judged = judgeAutoScalingGroup(group, [good, bad], account(), params);
    expect(judged.compliance).toBe('NON_COMPLIANT');
    expect(judged.annotation).toContain('launches lt-0abc1234def567890 v2: HttpTokens optional');
    expect(judged.annotation).toContain('then point ASG self-managed at v4');
    expect(judgeAutoScalingGroup(group, [good], account(), params).compliance).toBe('COMPLIANT');
  });

  it('a group on $Latest needs only the new version (the CLI command is cut to prose past 256 characters)', () => {
    const group = { name: 'sm', tags: { 'kubernetes.io/cluster/p': 'owned' }, launchTemplates: [], launchConfigurationName: undefined };
    const latest = launch({ launchTemplateId: 'lt-0abc1234def567890', launchTemplateName: undefined, version: '$Latest' }, { httpTokens: 'optional', httpPutResponseHopLimit: 2 });
    expect(judgeAutoScalingGroup(group, [latest], account(), params).annotation).toBe(
      'cluster "p": ASG sm launches lt-0abc1234def567890 v3 ($Latest): HttpTokens optional (want required). ' +
        'Fix: new version v4 of lt-0abc1234def567890 from v3 with MetadataOptions HttpTokens=required,HttpPutResponseHopLimit=2',
    );
  });

  it('judges a launch configuration and says it cannot change', () => {
    const group = { name: 'old', tags: { 'alpha.eksctl.io/cluster-name': 'prod', 'alpha.eksctl.io/nodegroup-name': 'ng-1' }, launchTemplates: [], launchConfigurationName: 'old-lc' };
    const judged = judgeAutoScalingGroup(
      group,
      [{ kind: 'launch-configuration', configuration: { name: 'old-lc', metadata: {}, imageId: 'ami-0123456789abcdef0' }, ami: undefined }],
      account(),
      params,
    );
    expect(judged.annotation).toContain('eksctl node group "ng-1" launches launch configuration old-lc');
    expect(judged.annotation).toContain('HttpTokens optional (EC2 default)');
    expect(judged.annotation).toContain('Fix: move to a launch template with HttpTokens=required,HttpPutResponseHopLimit=2');
  });

  it('is NON_COMPLIANT when the version it launches does not exist', () => {
    const group = { name: 'g', tags: managedNodeGroupTags(), launchTemplates: [], launchConfigurationName: undefined };
    const missing: GroupLaunch = { kind: 'launch-template', ref: { launchTemplateId: 'lt-0abc1234def567890', launchTemplateName: undefined, version: '9' }, template: template(), version: undefined, ami: undefined };
    expect(judgeAutoScalingGroup(group, [missing], account(), params).annotation).toContain('which does not exist');
  });

  it('is NOT_APPLICABLE for a group that is not an EKS node group', () => {
    const group = { name: 'web', tags: { app: 'web' }, launchTemplates: [], launchConfigurationName: undefined };
    expect(judgeAutoScalingGroup(group, [], account(), params).compliance).toBe('NOT_APPLICABLE');
  });
});

describe('templateFromConfigurationItem', () => {
  it('reads the string version numbers AWS Config records', () => {
    const item = aLaunchTemplateItem({ defaultVersion: 2, latestVersion: 5 });
    expect(templateFromConfigurationItem(item.resourceId, item.configuration ?? undefined, item.tags)).toEqual({
      launchTemplateId: 'lt-0abc1234def567890',
      launchTemplateName: 'prod-general-nodes',
      tags: { 'eks:cluster-name': 'prod' },
      defaultVersion: 2,
      latestVersion: 5,
    });
  });
});

describe('annotations fit AWS Config', () => {
  const name = (max: number) => fc.string({ minLength: 1, maxLength: max, unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_é漢😀'.split('')) });
  const options = fc.record(
    {
      httpTokens: fc.constantFrom('optional', 'required'),
      httpPutResponseHopLimit: fc.integer({ min: 1, max: 64 }),
      httpEndpoint: fc.constantFrom('enabled', 'disabled'),
    },
    { requiredKeys: [] },
  );

  it('stay within 256 characters for any group, template, owner and options, saying what fails before any fix', () => {
    fc.assert(
      fc.property(name(100), name(63), name(255), options, fc.constantFrom('managed', 'eksctl', 'self', 'karpenter'), fc.constantFrom('1', '$Latest', '$Default'), (cluster, group, asg, declared, owner, requested) => {
        const tags: Record<string, string> =
          owner === 'managed'
            ? { 'eks:cluster-name': cluster, 'eks:nodegroup-name': group }
            : owner === 'eksctl'
              ? { 'alpha.eksctl.io/cluster-name': cluster, 'alpha.eksctl.io/nodegroup-name': group }
              : owner === 'karpenter'
                ? { 'karpenter.k8s.aws/cluster': cluster, 'karpenter.k8s.aws/ec2nodeclass': group }
                : { [`kubernetes.io/cluster/${cluster}`]: 'owned' };
        const lt = template({ tags: owner === 'karpenter' ? tags : {}, defaultVersion: 1, latestVersion: 1 });
        const v = version(declared, { versionNumber: 1 });
        const groupJudgement = judgeAutoScalingGroup(
          { name: asg, tags, launchTemplates: [], launchConfigurationName: undefined },
          [{ kind: 'launch-template', ref: { launchTemplateId: lt.launchTemplateId, launchTemplateName: undefined, version: requested }, template: lt, version: v, ami: undefined }],
          account(),
          params,
        );
        const templateJudgement = judgeLaunchTemplate({ template: { ...lt, tags }, version: v, ami: undefined, account: account() }, params);
        for (const judged of [groupJudgement, templateJudgement]) {
          expect(judged.annotation.length).toBeLessThanOrEqual(256);
          if (judged.compliance !== 'NON_COMPLIANT') continue;
          const failure = judged.annotation.search(/(HttpTokens|HopLimit|HttpEndpoint) /);
          expect(failure).toBeGreaterThan(-1);
          const fix = judged.annotation.indexOf('Fix');
          if (fix !== -1) expect(failure).toBeLessThan(fix);
        }
      }),
      { numRuns: 300 },
    );
  });
});
