import {
  DescribeAutoScalingGroupsCommand,
  DescribeLaunchConfigurationsCommand,
  paginateDescribeAutoScalingGroups,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateVersionCommand,
  DescribeImagesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  GetInstanceMetadataDefaultsCommand,
  ModifyInstanceMetadataDefaultsCommand,
  ModifyLaunchTemplateCommand,
  paginateDescribeLaunchTemplates,
} from '@aws-sdk/client-ec2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../emulator/index.ts';
import { clientsFor, destroy, rejectionOf, type Clients } from './clients.ts';

let emulator: Emulator;
let clients: Clients;

beforeEach(async () => {
  emulator = await startEmulator();
  clients = clientsFor(emulator, { maxAttempts: 1 });
});

afterEach(async () => {
  destroy(clients);
  await emulator.close();
});

const nodeTags = { 'eks:cluster-name': 'prod', 'eks:nodegroup-name': 'ng-general', 'kubernetes.io/cluster/prod': 'owned' };

describe('launch templates (EC2 query protocol)', () => {
  it('describes templates by id, by name and all of them in pages', async () => {
    const a = emulator.addLaunchTemplate({ name: 'a', tags: { team: 'platform' } });
    emulator.addLaunchTemplate({ name: 'b' });
    emulator.addLaunchTemplate({ name: 'c' });
    const byId = await clients.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [a] }));
    expect(byId.LaunchTemplates).toEqual([
      expect.objectContaining({ LaunchTemplateId: a, LaunchTemplateName: 'a', DefaultVersionNumber: 1, LatestVersionNumber: 1, Tags: [{ Key: 'team', Value: 'platform' }] }),
    ]);
    const byName = await clients.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: ['b'] }));
    expect(byName.LaunchTemplates?.map((t) => t.LaunchTemplateName)).toEqual(['b']);
    const pages: number[] = [];
    for await (const page of paginateDescribeLaunchTemplates({ client: clients.ec2, pageSize: 2 }, {})) pages.push(page.LaunchTemplates?.length ?? 0);
    expect(pages).toEqual([2, 1]);
    const missing = await rejectionOf(clients.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: ['lt-0123456789abcdef0'] })));
    expect(missing.name).toBe('InvalidLaunchTemplateId.NotFound');
  });

  it('resolves $Default, $Latest and numbers, and describes one version of every template without naming one', async () => {
    const id = emulator.addLaunchTemplate({ metadataOptions: { httpTokens: 'optional' } });
    emulator.launchTemplates.addVersion(id, { metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2 } });
    const other = emulator.addLaunchTemplate({ tagSpecifications: [{ resourceType: 'instance', tags: nodeTags }] });
    const versions = await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: id, Versions: ['$Latest', '$Default', '1'] }));
    expect(versions.LaunchTemplateVersions?.map((v) => [v.VersionNumber, v.DefaultVersion, v.LaunchTemplateData?.MetadataOptions?.HttpTokens])).toEqual([
      [2, false, 'required'],
      [1, true, 'optional'],
      [1, true, 'optional'],
    ]);
    const bulk = await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ Versions: ['$Latest'] }));
    expect(bulk.LaunchTemplateVersions?.map((v) => [v.LaunchTemplateId, v.VersionNumber])).toEqual([
      [id, 2],
      [other, 1],
    ]);
    expect(bulk.LaunchTemplateVersions?.[1]?.LaunchTemplateData?.TagSpecifications).toEqual([
      { ResourceType: 'instance', Tags: Object.entries(nodeTags).map(([Key, Value]) => ({ Key, Value })) },
    ]);
    expect((await rejectionOf(clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ Versions: ['1'] })))).name).toBe('InvalidParameterCombination');
    expect((await rejectionOf(clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: id, Versions: ['7'] })))).name).toBe(
      'InvalidLaunchTemplateId.VersionNotFound',
    );
  });

  it('creates a version from a source version, changing only what the request carries, and moves the default', async () => {
    const id = emulator.addLaunchTemplate({ imageId: 'ami-0aaaaaaaaaaaaaaaa', instanceType: 'm7g.large', metadataOptions: { httpTokens: 'optional' } });
    const created = await clients.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: id,
        SourceVersion: '1',
        LaunchTemplateData: { MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 } },
      }),
    );
    expect(created.LaunchTemplateVersion).toMatchObject({
      VersionNumber: 2,
      DefaultVersion: false,
      LaunchTemplateData: { ImageId: 'ami-0aaaaaaaaaaaaaaaa', InstanceType: 'm7g.large', MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 } },
    });
    const modified = await clients.ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: id, DefaultVersion: '2' }));
    expect(modified.LaunchTemplate).toMatchObject({ DefaultVersionNumber: 2, LatestVersionNumber: 2 });
    const dry = await rejectionOf(clients.ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: id, SourceVersion: '1', DryRun: true, LaunchTemplateData: {} })));
    expect(dry.name).toBe('DryRunOperation');
    expect(emulator.launchTemplates.get(id)?.versions).toHaveLength(2);
  });

  it('describes AMIs with their ImdsSupport', async () => {
    emulator.addImage({ imageId: 'ami-0bbbbbbbbbbbbbbbb', imdsSupport: 'v2.0' });
    const out = await clients.ec2.send(new DescribeImagesCommand({ ImageIds: ['ami-0bbbbbbbbbbbbbbbb', 'ami-0cccccccccccccccc'] }));
    expect(out.Images?.map((i) => [i.ImageId, i.ImdsSupport])).toEqual([
      ['ami-0bbbbbbbbbbbbbbbb', 'v2.0'],
      ['ami-0cccccccccccccccc', undefined],
    ]);
  });
});

describe('account IMDS defaults', () => {
  it('reads and changes them; -1 and no-preference clear a value', async () => {
    expect((await clients.ec2.send(new GetInstanceMetadataDefaultsCommand({}))).AccountLevel).toEqual({ ManagedBy: 'account' });
    await clients.ec2.send(new ModifyInstanceMetadataDefaultsCommand({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 }));
    expect((await clients.ec2.send(new GetInstanceMetadataDefaultsCommand({}))).AccountLevel).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 2, ManagedBy: 'account' });
    await clients.ec2.send(new ModifyInstanceMetadataDefaultsCommand({ HttpTokens: 'no-preference', HttpPutResponseHopLimit: -1 }));
    expect((await clients.ec2.send(new GetInstanceMetadataDefaultsCommand({}))).AccountLevel).toEqual({ ManagedBy: 'account' });
    const bad = await rejectionOf(clients.ec2.send(new ModifyInstanceMetadataDefaultsCommand({ HttpPutResponseHopLimit: 65 })));
    expect(bad.name).toBe('InvalidParameterValue');
  });

  it('refuses changes when a declarative policy manages them, and says so', async () => {
    emulator.setAccountMetadataDefaults({ httpTokens: 'optional', managedBy: 'declarative-policy', managedExceptionMessage: 'Ask the platform team' });
    const read = await clients.ec2.send(new GetInstanceMetadataDefaultsCommand({}));
    expect(read.AccountLevel).toEqual({ HttpTokens: 'optional', ManagedBy: 'declarative-policy', ManagedExceptionMessage: 'Ask the platform team' });
    const refused = await rejectionOf(clients.ec2.send(new ModifyInstanceMetadataDefaultsCommand({ HttpTokens: 'required' })));
    expect(refused.name).toBe('OperationNotPermitted');
    expect(emulator.launchTemplates.accountDefaults().httpTokens).toBe('optional');
  });
});

describe('launches inherit metadata options as EC2 resolves them', () => {
  it.each([
    // template options, account defaults, AMI ImdsSupport, expected [tokens, hop]
    [{}, {}, undefined, ['optional', 1]],
    [{}, {}, 'v2.0', ['required', 2]],
    [{}, { httpPutResponseHopLimit: 1 }, 'v2.0', ['required', 1]],
    [{ httpTokens: 'optional' }, { httpTokens: 'required', httpPutResponseHopLimit: 2 }, undefined, ['optional', 2]],
    [{ httpTokens: 'required', httpPutResponseHopLimit: 3 }, { httpPutResponseHopLimit: 1 }, 'v2.0', ['required', 3]],
  ] as const)('template %j, account %j, AMI %s', (options, defaults, imdsSupport, [tokens, hop]) => {
    emulator.setAccountMetadataDefaults(defaults);
    emulator.addImage({ imageId: 'ami-0dddddddddddddddd', ...(imdsSupport ? { imdsSupport } : {}) });
    const id = emulator.addLaunchTemplate({ imageId: 'ami-0dddddddddddddddd', metadataOptions: options });
    const instance = emulator.getInstance(emulator.launchFromTemplate(id));
    expect([instance?.metadataOptions.httpTokens, instance?.metadataOptions.httpPutResponseHopLimit]).toEqual([tokens, hop]);
    expect(instance?.tags).toMatchObject({ 'aws:ec2launchtemplate:id': id, 'aws:ec2launchtemplate:version': '1' });
  });
});

describe('Auto Scaling groups (awsQuery protocol)', () => {
  it('describes a group as the SDK reads it: template, mixed instances policy, tags, instances', async () => {
    const id = emulator.addLaunchTemplate({ tagSpecifications: [{ resourceType: 'instance', tags: { Name: 'node' } }] });
    emulator.addAutoScalingGroup({ name: 'ng', launchTemplate: { launchTemplateId: id, version: '$Latest' }, desiredCapacity: 2, tags: nodeTags });
    emulator.addAutoScalingGroup({
      name: 'mixed',
      mixedInstancesPolicy: { launchTemplate: { launchTemplateId: id, version: '1' }, overrides: [{ instanceType: 'm7g.large' }, { instanceType: 'c7g.large', launchTemplate: { launchTemplateId: id } }] },
    });
    const out = await clients.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['ng', 'mixed'] }));
    const [ng, mixed] = out.AutoScalingGroups ?? [];
    expect(ng).toMatchObject({ AutoScalingGroupName: 'ng', LaunchTemplate: { LaunchTemplateId: id, Version: '$Latest' }, DesiredCapacity: 2 });
    expect(ng?.Instances).toHaveLength(2);
    expect(ng?.Tags).toContainEqual({ ResourceId: 'ng', ResourceType: 'auto-scaling-group', Key: 'eks:nodegroup-name', Value: 'ng-general', PropagateAtLaunch: true });
    expect(mixed?.MixedInstancesPolicy?.LaunchTemplate).toEqual({
      LaunchTemplateSpecification: { LaunchTemplateId: id, Version: '1' },
      Overrides: [{ InstanceType: 'm7g.large' }, { InstanceType: 'c7g.large', LaunchTemplateSpecification: { LaunchTemplateId: id } }],
    });
    const launched = emulator.getInstance(ng?.Instances?.[0]?.InstanceId ?? '');
    expect(launched?.tags).toMatchObject({ ...nodeTags, Name: 'node', 'aws:autoscaling:groupName': 'ng' });
  });

  it('pages groups 100 at most', async () => {
    const id = emulator.addLaunchTemplate();
    for (let i = 0; i < 7; i++) emulator.addAutoScalingGroup({ name: `g${i}`, launchTemplate: { launchTemplateId: id } });
    const pages: number[] = [];
    for await (const page of paginateDescribeAutoScalingGroups({ client: clients.autoscaling, pageSize: 3 }, {})) pages.push(page.AutoScalingGroups?.length ?? 0);
    expect(pages).toEqual([3, 3, 1]);
  });

  it('points a group at a new version and scales out with it', async () => {
    const id = emulator.addLaunchTemplate({ metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 1 } });
    emulator.addAutoScalingGroup({ name: 'ng', launchTemplate: { launchTemplateId: id, version: '1' }, desiredCapacity: 1, tags: nodeTags });
    const v2 = emulator.launchTemplates.addVersion(id, { metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2 } });
    await clients.autoscaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'ng', LaunchTemplate: { LaunchTemplateId: id, Version: String(v2) }, DesiredCapacity: 2 }));
    const group = emulator.autoscaling.get('ng');
    expect(group?.launchTemplate?.version).toBe('2');
    const hops = group?.instanceIds.map((i) => emulator.getInstance(i)?.metadataOptions.httpPutResponseHopLimit);
    expect(hops).toEqual([1, 2]);
    const invalid = await rejectionOf(clients.autoscaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'ng', DesiredCapacity: 99 })));
    expect(invalid.name).toBe('ValidationError');
  });

  it('describes launch configurations with their metadata options', async () => {
    emulator.addLaunchConfiguration({ name: 'old', imageId: 'ami-0eeeeeeeeeeeeeeee', metadataOptions: { httpTokens: 'optional' } });
    const out = await clients.autoscaling.send(new DescribeLaunchConfigurationsCommand({ LaunchConfigurationNames: ['old'] }));
    expect(out.LaunchConfigurations?.[0]).toMatchObject({ LaunchConfigurationName: 'old', ImageId: 'ami-0eeeeeeeeeeeeeeee', MetadataOptions: { HttpTokens: 'optional' } });
  });

  it('answers injected faults in the awsQuery error shape', async () => {
    emulator.faults.set('autoscaling:DescribeAutoScalingGroups', { throttleNext: 1 });
    const throttled = await rejectionOf(clients.autoscaling.send(new DescribeAutoScalingGroupsCommand({})));
    expect(throttled.name).toBe('Throttling');
    expect(emulator.throttled.get('autoscaling:DescribeAutoScalingGroups')).toBe(1);
  });
});
