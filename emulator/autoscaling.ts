import { AwsError, EmulatorUsageError } from './errors.ts';
import { formInteger, formList } from './form.ts';
import type { IamInstanceProfile, InstanceSpec, MetadataOptions } from './instance.ts';
import type { DeclaredOptions, LaunchTemplateService } from './launch-templates.ts';
import { SnapshotPager } from './paging.ts';
import { XmlWriter } from './xml.ts';

const XMLNS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';

export interface TemplateRef {
  launchTemplateId?: string;
  launchTemplateName?: string;
  version?: string;
}

export interface GroupTag {
  key: string;
  value: string;
  propagateAtLaunch: boolean;
}

export interface AutoScalingGroupSpec {
  name: string;
  launchTemplate?: TemplateRef;
  mixedInstancesPolicy?: { launchTemplate: TemplateRef; overrides?: { instanceType: string; launchTemplate?: TemplateRef }[] };
  launchConfigurationName?: string;
  minSize?: number;
  maxSize?: number;
  /** Instances are launched (from the group's template, resolved as EC2 would) up to this number. */
  desiredCapacity?: number;
  /** Tags as a map propagate at launch, like EKS's and eksctl's. */
  tags?: Record<string, string>;
}

export interface AutoScalingGroup {
  name: string;
  arn: string;
  launchTemplate?: TemplateRef;
  mixedInstancesPolicy?: AutoScalingGroupSpec['mixedInstancesPolicy'];
  launchConfigurationName?: string;
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  tags: GroupTag[];
  instanceIds: string[];
  createdTime: Date;
}

export interface LaunchConfigurationSpec {
  name: string;
  imageId: string;
  instanceType?: string;
  metadataOptions?: DeclaredOptions;
  iamInstanceProfile?: IamInstanceProfile;
}

interface Options {
  accountId: string;
  region: string;
  /** Creates the instance in EC2; returns its id. */
  launch: (spec: InstanceSpec) => string;
  templates: LaunchTemplateService;
}

/**
 * Auto Scaling groups and launch configurations. A group launches its instances the way Auto
 * Scaling does: from the launch template version it names (`$Default`, `$Latest` or a number;
 * a mixed instances policy's template), with propagated tags and EC2's resolution of metadata options.
 */
export class AutoScalingService {
  readonly #groups = new Map<string, AutoScalingGroup>();
  readonly #configurations = new Map<string, LaunchConfigurationSpec>();
  readonly #pager = new SnapshotPager<string>();
  readonly #options: Options;
  /** Every UpdateAutoScalingGroup, in order. */
  readonly updates: { name: string; at: Date; form: Record<string, string> }[] = [];

  constructor(options: Options) {
    this.#options = options;
  }

  addLaunchConfiguration(spec: LaunchConfigurationSpec): void {
    this.#configurations.set(spec.name, structuredClone(spec));
  }

  add(spec: AutoScalingGroupSpec): string {
    if (this.#groups.has(spec.name)) throw new EmulatorUsageError(`Auto Scaling group ${spec.name} already exists`);
    const group: AutoScalingGroup = {
      name: spec.name,
      arn: `arn:aws:autoscaling:${this.#options.region}:${this.#options.accountId}:autoScalingGroup:00000000-0000-4000-8000-${String(this.#groups.size).padStart(12, '0')}:autoScalingGroupName/${spec.name}`,
      ...(spec.launchTemplate ? { launchTemplate: { ...spec.launchTemplate } } : {}),
      ...(spec.mixedInstancesPolicy ? { mixedInstancesPolicy: structuredClone(spec.mixedInstancesPolicy) } : {}),
      ...(spec.launchConfigurationName ? { launchConfigurationName: spec.launchConfigurationName } : {}),
      minSize: spec.minSize ?? 0,
      maxSize: spec.maxSize ?? Math.max(10, spec.desiredCapacity ?? 0),
      desiredCapacity: 0,
      tags: Object.entries(spec.tags ?? {}).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
      instanceIds: [],
      createdTime: new Date(Date.UTC(2026, 0, 1)),
    };
    this.#groups.set(spec.name, group);
    this.#scaleTo(group, spec.desiredCapacity ?? 0);
    return spec.name;
  }

  /** Deletes the group (its instances stay, as after a force delete that detached them). */
  remove(name: string): void {
    if (!this.#groups.delete(name)) throw new EmulatorUsageError(`no Auto Scaling group ${name} in the emulator`);
  }

  get(name: string): AutoScalingGroup | undefined {
    const group = this.#groups.get(name);
    return group === undefined ? undefined : structuredClone(group);
  }

  readonly operations: Record<string, (form: URLSearchParams, requestId: string) => string> = {
    DescribeAutoScalingGroups: (form, requestId) => this.#describeAutoScalingGroups(form, requestId),
    UpdateAutoScalingGroup: (form, requestId) => this.#updateAutoScalingGroup(form, requestId),
    DescribeLaunchConfigurations: (form, requestId) => this.#describeLaunchConfigurations(form, requestId),
  };

  /** Launches instances up to `desired` (never terminates: the rule never scales in). */
  #scaleTo(group: AutoScalingGroup, desired: number): void {
    group.desiredCapacity = desired;
    while (group.instanceIds.length < desired) group.instanceIds.push(this.#launchOne(group));
  }

  #launchOne(group: AutoScalingGroup): string {
    const propagated: Record<string, string> = {};
    for (const tag of group.tags) if (tag.propagateAtLaunch) propagated[tag.key] = tag.value;
    propagated['aws:autoscaling:groupName'] = group.name;
    const ref = group.mixedInstancesPolicy?.launchTemplate ?? group.launchTemplate;
    if (ref !== undefined) return this.#options.launch(this.#options.templates.instanceSpecFor(ref.launchTemplateId ?? ref.launchTemplateName ?? '', ref.version, propagated));
    const configuration = group.launchConfigurationName === undefined ? undefined : this.#configurations.get(group.launchConfigurationName);
    if (configuration === undefined) throw new EmulatorUsageError(`Auto Scaling group ${group.name} has nothing to launch from`);
    const options: MetadataOptions = this.#options.templates.resolveOptions(configuration.metadataOptions ?? {}, configuration.imageId);
    return this.#options.launch({
      tags: propagated,
      metadataOptions: options,
      imageId: configuration.imageId,
      ...(configuration.iamInstanceProfile ? { iamInstanceProfile: configuration.iamInstanceProfile } : {}),
      ...(configuration.instanceType ? { instanceType: configuration.instanceType } : {}),
    });
  }

  #describeAutoScalingGroups(form: URLSearchParams, requestId: string): string {
    const names = formList(form, 'AutoScalingGroupNames.member');
    const maxRecords = formInteger(form, 'MaxRecords');
    if (maxRecords !== undefined && (maxRecords < 1 || maxRecords > 100)) {
      throw new AwsError('ValidationError', `1 validation error detected: Value '${maxRecords}' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to 100`);
    }
    const pageSize = maxRecords ?? 50;
    const token = form.get('NextToken');
    let page: readonly string[];
    let nextToken: string | undefined;
    if (token !== null && token !== '') {
      const next = this.#pager.next(token, pageSize);
      if (next === undefined) throw new AwsError('InvalidNextToken', 'The token is invalid.');
      ({ page, nextToken } = next);
    } else {
      const selected = names.length > 0 ? names.filter((n) => this.#groups.has(n)) : [...this.#groups.keys()];
      ({ page, nextToken } = this.#pager.first(selected, pageSize));
    }
    const xml = new XmlWriter()
      .open('DescribeAutoScalingGroupsResponse', XMLNS)
      .open('DescribeAutoScalingGroupsResult')
      .open('AutoScalingGroups');
    for (const name of page) {
      const group = this.#groups.get(name);
      if (group !== undefined) writeGroup(xml, group);
    }
    xml.close('AutoScalingGroups').leaf('NextToken', nextToken).close('DescribeAutoScalingGroupsResult');
    return withMetadata(xml, requestId).close('DescribeAutoScalingGroupsResponse').toString();
  }

  #updateAutoScalingGroup(form: URLSearchParams, requestId: string): string {
    const name = form.get('AutoScalingGroupName');
    if (name === null || name === '') throw new AwsError('ValidationError', 'AutoScalingGroupName is required');
    const group = this.#groups.get(name);
    if (group === undefined) throw new AwsError('ValidationError', `AutoScaling group not found: ${name}`);
    const template = readRef(form, 'LaunchTemplate');
    const mixedTemplate = readRef(form, 'MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification');
    for (const ref of [template, mixedTemplate]) {
      if (ref !== undefined) this.#options.templates.resolveLaunch(ref.launchTemplateId ?? ref.launchTemplateName ?? '', ref.version);
    }
    const desired = formInteger(form, 'DesiredCapacity');
    const min = formInteger(form, 'MinSize') ?? group.minSize;
    const max = formInteger(form, 'MaxSize') ?? group.maxSize;
    if (desired !== undefined && (desired < min || desired > max)) {
      throw new AwsError('ValidationError', `Desired capacity:${desired} must be between the specified min size:${min} and max size:${max}`);
    }
    this.updates.push({ name, at: new Date(), form: Object.fromEntries(form.entries()) });
    if (template !== undefined) {
      group.launchTemplate = template;
      delete group.launchConfigurationName;
    }
    if (mixedTemplate !== undefined && group.mixedInstancesPolicy !== undefined) group.mixedInstancesPolicy.launchTemplate = mixedTemplate;
    group.minSize = min;
    group.maxSize = max;
    if (desired !== undefined) this.#scaleTo(group, desired);
    const xml = new XmlWriter().open('UpdateAutoScalingGroupResponse', XMLNS);
    return withMetadata(xml, requestId).close('UpdateAutoScalingGroupResponse').toString();
  }

  #describeLaunchConfigurations(form: URLSearchParams, requestId: string): string {
    const names = formList(form, 'LaunchConfigurationNames.member');
    const selected = names.length > 0 ? names.flatMap((n) => this.#configurations.get(n) ?? []) : [...this.#configurations.values()];
    const xml = new XmlWriter()
      .open('DescribeLaunchConfigurationsResponse', XMLNS)
      .open('DescribeLaunchConfigurationsResult')
      .open('LaunchConfigurations');
    for (const c of selected) {
      xml
        .open('member')
        .leaf('LaunchConfigurationName', c.name)
        .leaf('LaunchConfigurationARN', `arn:aws:autoscaling:${this.#options.region}:${this.#options.accountId}:launchConfiguration:00000000-0000-4000-8000-000000000000:launchConfigurationName/${c.name}`)
        .leaf('ImageId', c.imageId)
        .leaf('InstanceType', c.instanceType ?? 'm5.large')
        .leaf('CreatedTime', new Date(Date.UTC(2024, 0, 1)))
        .leaf('IamInstanceProfile', c.iamInstanceProfile?.arn);
      if (c.metadataOptions !== undefined) {
        xml
          .open('MetadataOptions')
          .leaf('HttpTokens', c.metadataOptions.httpTokens)
          .leaf('HttpPutResponseHopLimit', c.metadataOptions.httpPutResponseHopLimit)
          .leaf('HttpEndpoint', c.metadataOptions.httpEndpoint)
          .close('MetadataOptions');
      }
      xml.close('member');
    }
    xml.close('LaunchConfigurations').close('DescribeLaunchConfigurationsResult');
    return withMetadata(xml, requestId).close('DescribeLaunchConfigurationsResponse').toString();
  }
}

function readRef(form: URLSearchParams, prefix: string): TemplateRef | undefined {
  const id = form.get(`${prefix}.LaunchTemplateId`);
  const name = form.get(`${prefix}.LaunchTemplateName`);
  const version = form.get(`${prefix}.Version`);
  if (id === null && name === null) return undefined;
  return { ...(id !== null ? { launchTemplateId: id } : {}), ...(name !== null ? { launchTemplateName: name } : {}), ...(version !== null ? { version } : {}) };
}

function writeRef(xml: XmlWriter, element: string, ref: TemplateRef): void {
  xml.open(element).leaf('LaunchTemplateId', ref.launchTemplateId).leaf('LaunchTemplateName', ref.launchTemplateName).leaf('Version', ref.version).close(element);
}

function writeGroup(xml: XmlWriter, group: AutoScalingGroup): void {
  xml.open('member').leaf('AutoScalingGroupName', group.name).leaf('AutoScalingGroupARN', group.arn).leaf('LaunchConfigurationName', group.launchConfigurationName);
  if (group.launchTemplate) writeRef(xml, 'LaunchTemplate', group.launchTemplate);
  if (group.mixedInstancesPolicy) {
    xml.open('MixedInstancesPolicy').open('LaunchTemplate');
    writeRef(xml, 'LaunchTemplateSpecification', group.mixedInstancesPolicy.launchTemplate);
    xml.open('Overrides');
    for (const override of group.mixedInstancesPolicy.overrides ?? []) {
      xml.open('member').leaf('InstanceType', override.instanceType);
      if (override.launchTemplate) writeRef(xml, 'LaunchTemplateSpecification', override.launchTemplate);
      xml.close('member');
    }
    xml.close('Overrides').close('LaunchTemplate').close('MixedInstancesPolicy');
  }
  xml
    .leaf('MinSize', group.minSize)
    .leaf('MaxSize', group.maxSize)
    .leaf('DesiredCapacity', group.desiredCapacity)
    .leaf('DefaultCooldown', 300)
    .open('AvailabilityZones')
    .leaf('member', 'us-east-1a')
    .close('AvailabilityZones')
    .leaf('HealthCheckType', 'EC2')
    .leaf('CreatedTime', group.createdTime)
    .open('Instances');
  for (const id of group.instanceIds) xml.open('member').leaf('InstanceId', id).leaf('LifecycleState', 'InService').leaf('HealthStatus', 'Healthy').close('member');
  xml.close('Instances').open('Tags');
  for (const tag of group.tags) {
    xml
      .open('member')
      .leaf('ResourceId', group.name)
      .leaf('ResourceType', 'auto-scaling-group')
      .leaf('Key', tag.key)
      .leaf('Value', tag.value)
      .leaf('PropagateAtLaunch', tag.propagateAtLaunch)
      .close('member');
  }
  xml.close('Tags').close('member');
}

function withMetadata(xml: XmlWriter, requestId: string): XmlWriter {
  return xml.open('ResponseMetadata').leaf('RequestId', requestId).close('ResponseMetadata');
}

