import { AwsError, EmulatorUsageError } from './errors.ts';
import { formBoolean, formInteger, formList, indexes } from './form.ts';
import { resourceId, type IamInstanceProfile, type InstanceSpec, type MetadataOptions, type Toggle } from './instance.ts';
import { SnapshotPager } from './paging.ts';
import { dryRunError, invalidParameterValue, readMetadataOptions, writeMetadataOptions } from './metadata-form.ts';
import { XmlWriter } from './xml.ts';

const XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

/** Metadata options as a launch template or launch configuration declares them: any may be left out. */
export type DeclaredOptions = Partial<Omit<MetadataOptions, 'state'>>;

export interface TagSpecification {
  resourceType: string;
  tags: Record<string, string>;
}

export interface LaunchTemplateVersionSpec {
  imageId?: string;
  instanceType?: string;
  metadataOptions?: DeclaredOptions;
  iamInstanceProfile?: IamInstanceProfile;
  tagSpecifications?: TagSpecification[];
  description?: string;
}

interface StoredVersion extends LaunchTemplateVersionSpec {
  versionNumber: number;
  createTime: Date;
}

export interface LaunchTemplate {
  id: string;
  name: string;
  tags: Record<string, string>;
  defaultVersion: number;
  versions: StoredVersion[];
  createTime: Date;
  createdBy: string;
}

export interface LaunchTemplateSpec extends LaunchTemplateVersionSpec {
  id?: string;
  name?: string;
  /** The template's own tags (not the ones it gives instances). */
  tags?: Record<string, string>;
  createdBy?: string;
}

/** GetInstanceMetadataDefaults' account level: absent fields are "no preference". */
export interface AccountMetadataDefaults {
  httpTokens?: 'optional' | 'required';
  httpPutResponseHopLimit?: number;
  httpEndpoint?: Toggle;
  instanceMetadataTags?: Toggle;
  httpTokensEnforced?: Toggle;
  /** `declarative-policy`: an AWS Organizations declarative policy sets them; the account cannot change them. */
  managedBy?: 'account' | 'declarative-policy';
  managedExceptionMessage?: string;
}

export interface ImageSpec {
  imageId: string;
  imdsSupport?: 'v2.0';
}

interface Options {
  accountId: string;
  region: string;
}

const LT_ID_PATTERN = /^lt-[0-9a-f]{17}$/;
const NO_PREFERENCE = 'no-preference';

/**
 * Launch templates and their versions, the account's IMDS defaults and AMIs: the EC2 side of what
 * launches nodes. `resolveLaunch` is how EC2 turns them into a new instance's metadata options.
 */
export class LaunchTemplateService {
  readonly #templates = new Map<string, LaunchTemplate>();
  readonly #images = new Map<string, ImageSpec>();
  readonly #pager = new SnapshotPager<unknown>();
  readonly #options: Options;
  #defaults: AccountMetadataDefaults = { managedBy: 'account' };
  #seq = 0;

  constructor(options: Options) {
    this.#options = options;
  }

  add(spec: LaunchTemplateSpec): string {
    const id = spec.id ?? resourceId('lt', 1_000_000 + ++this.#seq);
    if (this.#templates.has(id)) throw new EmulatorUsageError(`launch template ${id} already exists`);
    const { id: _id, name, tags, createdBy, ...version } = spec;
    const now = new Date(Date.UTC(2026, 0, 1) + this.#seq * 1000);
    this.#templates.set(id, {
      id,
      name: name ?? `template-${this.#seq}`,
      tags: { ...tags },
      defaultVersion: 1,
      versions: [{ ...structuredClone(version), versionNumber: 1, createTime: now }],
      createTime: now,
      createdBy: createdBy ?? `arn:aws:iam::${this.#options.accountId}:user/platform`,
    });
    return id;
  }

  /** Adds a version as CreateLaunchTemplateVersion would (without a source version). */
  addVersion(id: string, spec: LaunchTemplateVersionSpec): number {
    const template = this.#require(id);
    const versionNumber = latest(template) + 1;
    template.versions.push({ ...structuredClone(spec), versionNumber, createTime: new Date() });
    return versionNumber;
  }

  get(idOrName: string): LaunchTemplate | undefined {
    const template = this.#templates.get(idOrName) ?? [...this.#templates.values()].find((t) => t.name === idOrName);
    return template === undefined ? undefined : structuredClone(template);
  }

  all(): LaunchTemplate[] {
    return [...this.#templates.values()].map((t) => structuredClone(t));
  }

  setAccountDefaults(defaults: AccountMetadataDefaults): void {
    this.#defaults = { managedBy: 'account', ...defaults };
  }

  accountDefaults(): AccountMetadataDefaults {
    return { ...this.#defaults };
  }

  addImage(image: ImageSpec): void {
    this.#images.set(image.imageId, { ...image });
  }

  /**
   * The version a launch gets (`$Default`, `$Latest`, a number or nothing) and the metadata options
   * EC2 gives the instance: the launch's own values, then the account defaults, then the AMI
   * (`ImdsSupport: v2.0`: required, 2; tokens and hop limit only), then EC2's (optional, 1, enabled).
   */
  resolveLaunch(idOrName: string, requested: string | undefined): { template: LaunchTemplate; version: StoredVersion; options: MetadataOptions } {
    const template = this.#templates.get(idOrName) ?? [...this.#templates.values()].find((t) => t.name === idOrName);
    if (template === undefined) throw new EmulatorUsageError(`no launch template ${idOrName}`);
    const number = versionNumberOf(template, requested);
    const version = template.versions.find((v) => v.versionNumber === number);
    if (version === undefined) throw new EmulatorUsageError(`launch template ${template.id} has no version ${requested ?? '$Default'}`);
    return { template: structuredClone(template), version: structuredClone(version), options: this.resolveOptions(version.metadataOptions ?? {}, version.imageId) };
  }

  /**
   * The instance a launch from a template creates: its resolved options, the template's instance
   * tags under the caller's, and the `aws:ec2launchtemplate:*` tags EC2 adds.
   */
  instanceSpecFor(idOrName: string, requested: string | undefined, tags: Record<string, string>): InstanceSpec {
    const { template, version, options } = this.resolveLaunch(idOrName, requested);
    const instanceTags: Record<string, string> = {};
    for (const spec of version.tagSpecifications ?? []) if (spec.resourceType === 'instance') Object.assign(instanceTags, spec.tags);
    return {
      tags: { ...instanceTags, ...tags, 'aws:ec2launchtemplate:id': template.id, 'aws:ec2launchtemplate:version': String(version.versionNumber) },
      metadataOptions: options,
      ...(version.iamInstanceProfile ? { iamInstanceProfile: version.iamInstanceProfile } : {}),
      ...(version.imageId ? { imageId: version.imageId } : {}),
      ...(version.instanceType ? { instanceType: version.instanceType } : {}),
    };
  }

  resolveOptions(declared: DeclaredOptions, imageId: string | undefined): MetadataOptions {
    const account = this.#defaults;
    const amiV2 = imageId !== undefined && this.#images.get(imageId)?.imdsSupport === 'v2.0';
    return {
      state: 'applied',
      httpTokens: declared.httpTokens ?? account.httpTokens ?? (amiV2 ? 'required' : 'optional'),
      httpPutResponseHopLimit: declared.httpPutResponseHopLimit ?? account.httpPutResponseHopLimit ?? (amiV2 ? 2 : 1),
      httpEndpoint: declared.httpEndpoint ?? account.httpEndpoint ?? 'enabled',
      httpProtocolIpv6: declared.httpProtocolIpv6 ?? 'disabled',
      instanceMetadataTags: declared.instanceMetadataTags ?? account.instanceMetadataTags ?? 'disabled',
    };
  }

  readonly operations: Record<string, (form: URLSearchParams, requestId: string) => string> = {
    DescribeLaunchTemplates: (form, requestId) => this.#describeLaunchTemplates(form, requestId),
    DescribeLaunchTemplateVersions: (form, requestId) => this.#describeLaunchTemplateVersions(form, requestId),
    CreateLaunchTemplateVersion: (form, requestId) => this.#createLaunchTemplateVersion(form, requestId),
    ModifyLaunchTemplate: (form, requestId) => this.#modifyLaunchTemplate(form, requestId),
    GetInstanceMetadataDefaults: (form, requestId) => this.#getInstanceMetadataDefaults(form, requestId),
    ModifyInstanceMetadataDefaults: (form, requestId) => this.#modifyInstanceMetadataDefaults(form, requestId),
    DescribeImages: (form, requestId) => this.#describeImages(form, requestId),
  };

  #describeLaunchTemplates(form: URLSearchParams, requestId: string): string {
    const ids = formList(form, 'LaunchTemplateId');
    const names = formList(form, 'LaunchTemplateName');
    const maxResults = pageSize(form, 1, 200);
    if (formBoolean(form, 'DryRun')) throw dryRunError();
    let selected: LaunchTemplate[];
    if (ids.length > 0 || names.length > 0) {
      selected = [];
      for (const id of ids) selected.push(this.#found(id, null));
      for (const name of names) selected.push(this.#found(null, name));
    } else {
      selected = [...this.#templates.values()];
    }
    const { page, nextToken } = this.#page(form, selected, maxResults);
    const xml = new XmlWriter().open('DescribeLaunchTemplatesResponse', XMLNS).leaf('requestId', requestId).open('launchTemplates');
    for (const template of page as LaunchTemplate[]) {
      xml.open('item');
      writeTemplate(xml, template);
      xml.close('item');
    }
    return xml.close('launchTemplates').leaf('nextToken', nextToken).close('DescribeLaunchTemplatesResponse').toString();
  }

  #describeLaunchTemplateVersions(form: URLSearchParams, requestId: string): string {
    const id = form.get('LaunchTemplateId');
    const name = form.get('LaunchTemplateName');
    const versions = formList(form, 'LaunchTemplateVersion');
    const maxResults = pageSize(form, 1, 200);
    if (formBoolean(form, 'DryRun')) throw dryRunError();
    let selected: { template: LaunchTemplate; version: StoredVersion }[];
    if (id === null && name === null) {
      // Without a template, only $Latest and $Default are allowed: that version of every template.
      if (versions.length === 0 || versions.some((v) => v !== '$Latest' && v !== '$Default')) {
        throw new AwsError('InvalidParameterCombination', 'When no launch template is specified, the only allowed versions are $Latest and $Default.');
      }
      selected = [];
      for (const template of this.#templates.values()) {
        const numbers = new Set(versions.map((v) => versionNumberOf(template, v)));
        for (const version of template.versions) if (numbers.has(version.versionNumber)) selected.push({ template, version });
      }
    } else {
      const template = this.#found(id, name);
      if (versions.length === 0) {
        selected = template.versions.map((version) => ({ template, version }));
      } else {
        selected = versions.map((requested) => {
          const number = versionNumberOf(template, requested);
          const version = template.versions.find((v) => v.versionNumber === number);
          if (version === undefined) {
            throw new AwsError('InvalidLaunchTemplateId.VersionNotFound', `Could not find launch template version ${requested} for template ${template.id}.`);
          }
          return { template, version };
        });
      }
    }
    const { page, nextToken } = this.#page(form, selected, maxResults);
    const xml = new XmlWriter().open('DescribeLaunchTemplateVersionsResponse', XMLNS).leaf('requestId', requestId).open('launchTemplateVersionSet');
    for (const { template, version } of page as { template: LaunchTemplate; version: StoredVersion }[]) {
      xml.open('item');
      writeVersion(xml, template, version);
      xml.close('item');
    }
    return xml.close('launchTemplateVersionSet').leaf('nextToken', nextToken).close('DescribeLaunchTemplateVersionsResponse').toString();
  }

  #createLaunchTemplateVersion(form: URLSearchParams, requestId: string): string {
    const template = this.#requireFromForm(form);
    const source = form.get('SourceVersion');
    const base = source === null ? undefined : template.versions.find((v) => v.versionNumber === versionNumberOf(template, source));
    if (source !== null && base === undefined) {
      throw new AwsError('InvalidLaunchTemplateId.VersionNotFound', `Could not find launch template version ${source} for template ${template.id}.`);
    }
    if (formBoolean(form, 'DryRun')) throw dryRunError();
    const data = readTemplateData(form);
    const { versionNumber: _n, createTime: _t, ...inherited } = base ?? { versionNumber: 0, createTime: new Date() };
    const version: StoredVersion = {
      ...structuredClone(inherited),
      ...data,
      // A source version's metadata options are replaced as a whole by the request's, as EC2 does for each top-level field.
      versionNumber: latest(template) + 1,
      createTime: new Date(),
      ...(form.get('VersionDescription') !== null ? { description: form.get('VersionDescription') ?? '' } : {}),
    };
    template.versions.push(version);
    const xml = new XmlWriter().open('CreateLaunchTemplateVersionResponse', XMLNS).leaf('requestId', requestId).open('launchTemplateVersion');
    writeVersion(xml, template, version);
    return xml.close('launchTemplateVersion').close('CreateLaunchTemplateVersionResponse').toString();
  }

  #modifyLaunchTemplate(form: URLSearchParams, requestId: string): string {
    const template = this.#requireFromForm(form);
    const requested = form.get('SetDefaultVersion');
    if (requested !== null) {
      const number = versionNumberOf(template, requested);
      if (number === undefined || !template.versions.some((v) => v.versionNumber === number)) {
        throw new AwsError('InvalidLaunchTemplateId.VersionNotFound', `Could not find launch template version ${requested} for template ${template.id}.`);
      }
      if (formBoolean(form, 'DryRun')) throw dryRunError();
      template.defaultVersion = number;
    } else if (formBoolean(form, 'DryRun')) {
      throw dryRunError();
    }
    const xml = new XmlWriter().open('ModifyLaunchTemplateResponse', XMLNS).leaf('requestId', requestId).open('launchTemplate');
    writeTemplate(xml, template);
    return xml.close('launchTemplate').close('ModifyLaunchTemplateResponse').toString();
  }

  #getInstanceMetadataDefaults(form: URLSearchParams, requestId: string): string {
    if (formBoolean(form, 'DryRun')) throw dryRunError();
    const d = this.#defaults;
    return new XmlWriter()
      .open('GetInstanceMetadataDefaultsResponse', XMLNS)
      .leaf('requestId', requestId)
      .open('accountLevel')
      .leaf('httpTokens', d.httpTokens)
      .leaf('httpPutResponseHopLimit', d.httpPutResponseHopLimit)
      .leaf('httpEndpoint', d.httpEndpoint)
      .leaf('instanceMetadataTags', d.instanceMetadataTags)
      .leaf('httpTokensEnforced', d.httpTokensEnforced)
      .leaf('managedBy', d.managedBy)
      .leaf('managedExceptionMessage', d.managedExceptionMessage)
      .close('accountLevel')
      .close('GetInstanceMetadataDefaultsResponse')
      .toString();
  }

  #modifyInstanceMetadataDefaults(form: URLSearchParams, requestId: string): string {
    const next: AccountMetadataDefaults = { ...this.#defaults };
    const tokens = form.get('HttpTokens');
    if (tokens !== null) {
      if (!['optional', 'required', NO_PREFERENCE].includes(tokens)) throw invalidParameterValue('HttpTokens', tokens);
      if (tokens === NO_PREFERENCE) delete next.httpTokens;
      else next.httpTokens = tokens as 'optional' | 'required';
    }
    const hop = formInteger(form, 'HttpPutResponseHopLimit');
    if (hop !== undefined) {
      if (hop !== -1 && (hop < 1 || hop > 64)) throw invalidParameterValue('HttpPutResponseHopLimit', String(hop));
      if (hop === -1) delete next.httpPutResponseHopLimit;
      else next.httpPutResponseHopLimit = hop;
    }
    for (const [param, field] of [
      ['HttpEndpoint', 'httpEndpoint'],
      ['InstanceMetadataTags', 'instanceMetadataTags'],
      ['HttpTokensEnforced', 'httpTokensEnforced'],
    ] as const) {
      const value = form.get(param);
      if (value === null) continue;
      if (!['enabled', 'disabled', NO_PREFERENCE].includes(value)) throw invalidParameterValue(param, value);
      if (value === NO_PREFERENCE) delete next[field];
      else next[field] = value as Toggle;
    }
    if (this.#defaults.managedBy === 'declarative-policy') {
      // The emulator's choice of code: EC2 documents that the account cannot change them, not the error it answers.
      throw new AwsError(
        'OperationNotPermitted',
        this.#defaults.managedExceptionMessage ?? 'The IMDS defaults of this account are managed by a declarative policy and cannot be modified.',
      );
    }
    if (formBoolean(form, 'DryRun')) throw dryRunError();
    this.#defaults = next;
    return new XmlWriter()
      .open('ModifyInstanceMetadataDefaultsResponse', XMLNS)
      .leaf('requestId', requestId)
      .leaf('return', 'true')
      .close('ModifyInstanceMetadataDefaultsResponse')
      .toString();
  }

  #describeImages(form: URLSearchParams, requestId: string): string {
    const ids = formList(form, 'ImageId');
    if (formBoolean(form, 'DryRun')) throw dryRunError();
    const xml = new XmlWriter().open('DescribeImagesResponse', XMLNS).leaf('requestId', requestId).open('imagesSet');
    for (const id of ids) {
      if (!/^ami-[0-9a-f]{8,17}$/.test(id)) throw new AwsError('InvalidAMIID.Malformed', `Invalid id: "${id}"`);
      // Unknown ids describe as plain AMIs without ImdsSupport: the emulator does not model every public image.
      const image = this.#images.get(id) ?? { imageId: id };
      xml.open('item').leaf('imageId', image.imageId).leaf('imageState', 'available').leaf('imdsSupport', image.imdsSupport).close('item');
    }
    return xml.close('imagesSet').close('DescribeImagesResponse').toString();
  }

  #page(form: URLSearchParams, items: readonly unknown[], maxResults: number): { page: readonly unknown[]; nextToken: string | undefined } {
    const token = form.get('NextToken');
    if (token === null || token === '') return this.#pager.first(items, maxResults);
    const next = this.#pager.next(token, maxResults);
    if (next === undefined) throw new AwsError('InvalidPaginationToken', `The pagination token '${token}' is invalid or has expired.`);
    return next;
  }

  #requireFromForm(form: URLSearchParams): LaunchTemplate {
    const id = form.get('LaunchTemplateId');
    const name = form.get('LaunchTemplateName');
    if (id === null && name === null) throw new AwsError('MissingParameter', 'The request must contain the parameter LaunchTemplateId or LaunchTemplateName');
    return this.#found(id, name);
  }

  /** The template a request names by id (checked for form) or by name, or EC2's NotFound error. */
  #found(id: string | null, name: string | null): LaunchTemplate {
    if (id !== null && !LT_ID_PATTERN.test(id)) throw new AwsError('InvalidLaunchTemplateId.Malformed', `The specified ID '${id}' is not valid.`);
    const template = id !== null ? this.#templates.get(id) : [...this.#templates.values()].find((t) => t.name === name);
    if (template !== undefined) return template;
    throw id !== null
      ? new AwsError('InvalidLaunchTemplateId.NotFound', `The specified launch template, with template ID ${id}, does not exist.`)
      : new AwsError('InvalidLaunchTemplateName.NotFoundException', 'At least one of the launch templates specified in the request does not exist.');
  }

  #require(id: string): LaunchTemplate {
    const template = this.#templates.get(id);
    if (template === undefined) throw new EmulatorUsageError(`no launch template ${id} in the emulator`);
    return template;
  }
}

function latest(template: LaunchTemplate): number {
  return Math.max(...template.versions.map((v) => v.versionNumber));
}

/** `$Default` (or nothing), `$Latest`, or a number; undefined for anything else. */
export function versionNumberOf(template: Pick<LaunchTemplate, 'defaultVersion' | 'versions'>, requested: string | undefined): number | undefined {
  if (requested === undefined || requested === '' || requested === '$Default') return template.defaultVersion;
  if (requested === '$Latest') return Math.max(...template.versions.map((v) => v.versionNumber));
  return /^\d+$/.test(requested) ? Number(requested) : undefined;
}

function pageSize(form: URLSearchParams, min: number, max: number): number {
  const maxResults = formInteger(form, 'MaxResults');
  if (maxResults === undefined) return Number.MAX_SAFE_INTEGER;
  if (maxResults < min || maxResults > max) {
    throw new AwsError('InvalidParameterValue', `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value between ${min} and ${max}.`);
  }
  return maxResults;
}

function readTemplateData(form: URLSearchParams): LaunchTemplateVersionSpec {
  const data: LaunchTemplateVersionSpec = {};
  const prefix = 'LaunchTemplateData.';
  const image = form.get(`${prefix}ImageId`);
  if (image !== null) data.imageId = image;
  const type = form.get(`${prefix}InstanceType`);
  if (type !== null) data.instanceType = type;
  const options = readMetadataOptions(form, `${prefix}MetadataOptions.`);
  if (Object.keys(options).length > 0) data.metadataOptions = options;
  const specs = indexes(form, `${prefix}TagSpecification`).map((i) => {
    const base = `${prefix}TagSpecification.${i}`;
    const tags: Record<string, string> = {};
    for (const j of indexes(form, `${base}.Tag`)) tags[form.get(`${base}.Tag.${j}.Key`) ?? ''] = form.get(`${base}.Tag.${j}.Value`) ?? '';
    return { resourceType: form.get(`${base}.ResourceType`) ?? '', tags };
  });
  if (specs.length > 0) data.tagSpecifications = specs;
  return data;
}

function writeTemplate(xml: XmlWriter, template: LaunchTemplate): void {
  xml
    .leaf('launchTemplateId', template.id)
    .leaf('launchTemplateName', template.name)
    .leaf('createTime', template.createTime)
    .leaf('createdBy', template.createdBy)
    .leaf('defaultVersionNumber', template.defaultVersion)
    .leaf('latestVersionNumber', latest(template));
  writeTags(xml, template.tags);
}

function writeVersion(xml: XmlWriter, template: LaunchTemplate, version: StoredVersion): void {
  xml
    .leaf('launchTemplateId', template.id)
    .leaf('launchTemplateName', template.name)
    .leaf('versionNumber', version.versionNumber)
    .leaf('versionDescription', version.description)
    .leaf('createTime', version.createTime)
    .leaf('createdBy', template.createdBy)
    .leaf('defaultVersion', version.versionNumber === template.defaultVersion)
    .open('launchTemplateData')
    .leaf('imageId', version.imageId)
    .leaf('instanceType', version.instanceType);
  if (version.iamInstanceProfile !== undefined) {
    xml.open('iamInstanceProfile').leaf('arn', version.iamInstanceProfile.arn).close('iamInstanceProfile');
  }
  if (version.metadataOptions !== undefined) writeMetadataOptions(xml, 'metadataOptions', { state: 'applied', ...version.metadataOptions });
  if (version.tagSpecifications !== undefined && version.tagSpecifications.length > 0) {
    xml.open('tagSpecificationSet');
    for (const spec of version.tagSpecifications) {
      xml.open('item').leaf('resourceType', spec.resourceType);
      writeTags(xml, spec.tags);
      xml.close('item');
    }
    xml.close('tagSpecificationSet');
  }
  xml.close('launchTemplateData');
}

function writeTags(xml: XmlWriter, tags: Record<string, string>): void {
  const keys = Object.keys(tags);
  if (keys.length === 0) return;
  xml.open('tagSet');
  for (const key of keys) xml.open('item').leaf('key', key).leaf('value', tags[key]).close('item');
  xml.close('tagSet');
}
