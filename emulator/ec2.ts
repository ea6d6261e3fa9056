import { randomUUID } from 'node:crypto';
import { AwsError, EmulatorUsageError } from './errors.ts';
import { formBoolean, formInteger, formList, indexes } from './form.ts';
import { dryRunError, readMetadataOptions, writeMetadataOptions } from './metadata-form.ts';
import {
  copyInstance,
  createInstance,
  INSTANCE_ID_PATTERN,
  STATE_CODES,
  type Instance,
  type InstanceSpec,
  type InstanceStateName,
  type MetadataOptions,
} from './instance.ts';
import { writeNodeDetail } from './node-detail.ts';
import { SnapshotPager } from './paging.ts';
import { compileAny, type Matcher } from './wildcard.ts';
import { XmlWriter } from './xml.ts';

const XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export interface MetadataChange {
  instanceId: string;
  at: Date;
  /** Only the fields the request carried. */
  requested: Partial<Omit<MetadataOptions, 'state'>>;
}

/** An EventBridge "EC2 Instance State-change Notification", as EC2 sends it: no tags, no options. */
export interface StateChangeEvent {
  version: '0';
  id: string;
  'detail-type': 'EC2 Instance State-change Notification';
  source: 'aws.ec2';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: { 'instance-id': string; state: InstanceStateName };
}

export interface LaunchOptions {
  /** From `pending` to `running`; 0 (the default) makes both events at once. */
  bootMs?: number;
}

type Predicate = (instance: Instance) => boolean;

interface Ec2Options {
  accountId: string;
  region: string;
  applyDelayMs: number;
}

export class Ec2Service {
  readonly #instances = new Map<string, Instance>();
  readonly #pager = new SnapshotPager<string>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #changes: MetadataChange[] = [];
  readonly #stateEvents: StateChangeEvent[] = [];
  readonly #stateListeners = new Set<(event: StateChangeEvent) => void>();
  readonly #options: Ec2Options;
  #seq = 0;
  /** ModifyInstanceMetadataOptions on these ids fails with UnauthorizedOperation. */
  readonly unauthorizedInstanceIds = new Set<string>();
  applyDelayMs: number;

  constructor(options: Ec2Options) {
    this.#options = options;
    this.applyDelayMs = options.applyDelayMs;
  }

  add(spec: InstanceSpec): string {
    const instance = createInstance(spec, ++this.#seq, this.#options.region);
    if (this.#instances.has(instance.instanceId)) {
      throw new EmulatorUsageError(`instance ${instance.instanceId} already exists`);
    }
    this.#instances.set(instance.instanceId, instance);
    return instance.instanceId;
  }

  get(instanceId: string): Instance | undefined {
    const instance = this.#instances.get(instanceId);
    return instance === undefined ? undefined : copyInstance(instance);
  }

  all(): Instance[] {
    return [...this.#instances.values()].map(copyInstance);
  }

  get size(): number {
    return this.#instances.size;
  }

  update(instanceId: string, patch: Omit<InstanceSpec, 'instanceId' | 'metadataOptions'> & { metadataOptions?: Partial<MetadataOptions> }): void {
    const instance = this.#require(instanceId);
    const { metadataOptions, tags, ...rest } = patch;
    Object.assign(instance, rest);
    if (tags !== undefined) instance.tags = { ...tags };
    if (metadataOptions !== undefined) instance.metadataOptions = { ...instance.metadataOptions, ...metadataOptions };
  }

  /** Changes the state and, when it differs, emits the state-change event. */
  setState(instanceId: string, state: InstanceStateName): void {
    const instance = this.#require(instanceId);
    if (instance.state === state) return;
    instance.state = state;
    this.#emitState(instanceId, state);
  }

  /**
   * A launch as EC2 makes one: the instance appears `pending` (event), then turns `running`
   * (event) after `bootMs`. Tags and metadata options are there from the start, as with a launch
   * template; a tag added later is `update`'s job.
   */
  launch(spec: InstanceSpec, options: LaunchOptions = {}): string {
    const instanceId = this.add({ ...spec, state: 'pending', launchTime: spec.launchTime ?? new Date() });
    this.#emitState(instanceId, 'pending');
    const bootMs = options.bootMs ?? 0;
    if (bootMs <= 0) {
      this.setState(instanceId, 'running');
    } else {
      const timer = setTimeout(() => {
        this.#timers.delete(`boot:${instanceId}`);
        if (this.#instances.get(instanceId)?.state === 'pending') this.setState(instanceId, 'running');
      }, bootMs);
      timer.unref();
      this.#timers.set(`boot:${instanceId}`, timer);
    }
    return instanceId;
  }

  stateChangeEvents(): StateChangeEvent[] {
    return structuredClone(this.#stateEvents);
  }

  drainStateChangeEvents(): StateChangeEvent[] {
    return this.#stateEvents.splice(0, this.#stateEvents.length);
  }

  /** EventBridge pushes: the listener gets each event as it is made (it is also kept for drain). Returns the unsubscribe. */
  onStateChange(listener: (event: StateChangeEvent) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  #emitState(instanceId: string, state: InstanceStateName): void {
    const { accountId, region } = this.#options;
    const event: StateChangeEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'EC2 Instance State-change Notification',
      source: 'aws.ec2',
      account: accountId,
      // EventBridge envelope times carry no milliseconds.
      time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region,
      resources: [`arn:aws:ec2:${region}:${accountId}:instance/${instanceId}`],
      detail: { 'instance-id': instanceId, state },
    };
    this.#stateEvents.push(event);
    for (const listener of this.#stateListeners) listener(structuredClone(event));
  }

  remove(instanceId: string): void {
    this.#require(instanceId);
    this.#instances.delete(instanceId);
    this.#cancelApply(instanceId);
  }

  metadataChanges(instanceId?: string): MetadataChange[] {
    const changes = instanceId === undefined ? this.#changes : this.#changes.filter((c) => c.instanceId === instanceId);
    return changes.map((c) => ({ ...c, requested: { ...c.requested } }));
  }

  close(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  readonly operations: Record<string, (form: URLSearchParams, requestId: string) => string> = {
    DescribeInstances: (form, requestId) => this.#describeInstances(form, requestId),
    ModifyInstanceMetadataOptions: (form, requestId) => this.#modifyInstanceMetadataOptions(form, requestId),
    CreateTags: (form, requestId) => this.#createTags(form, requestId),
  };

  /** Instance tags only: the remediation keeps its ledger on the instance it changed. */
  #createTags(form: URLSearchParams, requestId: string): string {
    const resourceIds = formList(form, 'ResourceId');
    if (resourceIds.length === 0) throw new AwsError('MissingParameter', "The request must contain the parameter 'ResourceId'");
    const tags = indexes(form, 'Tag').map((i) => ({ key: form.get(`Tag.${i}.Key`) ?? '', value: form.get(`Tag.${i}.Value`) ?? '' }));
    if (tags.length === 0) throw new AwsError('MissingParameter', "The request must contain the parameter 'Tag'");
    for (const { key, value } of tags) {
      if (key.length < 1 || key.length > 128 || value.length > 256) {
        throw new AwsError('InvalidParameterValue', `Tag key must be 1-128 and value 0-256 characters: '${key}'`);
      }
      if (key.toLowerCase().startsWith('aws:')) {
        throw new AwsError('InvalidParameterValue', "Tag keys starting with 'aws:' are reserved for internal use");
      }
    }
    const instances = resourceIds.map((id) => {
      const instance = this.#instances.get(id);
      if (instance === undefined) throw new AwsError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
      return instance;
    });
    if (formBoolean(form, 'DryRun')) throw dryRunError();
    for (const instance of instances) {
      for (const { key, value } of tags) instance.tags[key] = value;
    }
    return new XmlWriter()
      .open('CreateTagsResponse', XMLNS)
      .leaf('requestId', requestId)
      .leaf('return', 'true')
      .close('CreateTagsResponse')
      .toString();
  }

  #describeInstances(form: URLSearchParams, requestId: string): string {
    const ids = formList(form, 'InstanceId');
    const maxResults = formInteger(form, 'MaxResults');
    const nextToken = form.get('NextToken');
    if (ids.length > 0 && maxResults !== undefined) {
      throw new AwsError('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
    }
    if (maxResults !== undefined && (maxResults < 5 || maxResults > 1000)) {
      throw new AwsError(
        'InvalidParameterValue',
        `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`,
      );
    }
    const predicate = compileFilters(form);
    if (formBoolean(form, 'DryRun')) throw dryRunError();
    const pageSize = maxResults ?? Number.MAX_SAFE_INTEGER;

    let page: readonly string[];
    let next: string | undefined;
    if (nextToken !== null && nextToken !== '') {
      const result = this.#pager.next(nextToken, pageSize);
      if (result === undefined) {
        throw new AwsError('InvalidPaginationToken', `The pagination token '${nextToken}' is invalid or has expired.`);
      }
      ({ page, nextToken: next } = result);
    } else {
      const matching = ids.length > 0 ? this.#selectByIds(ids, predicate) : this.#select(predicate, formBoolean(form, 'IncludeManagedResources'));
      ({ page, nextToken: next } = this.#pager.first(matching, pageSize));
    }

    const xml = new XmlWriter().open('DescribeInstancesResponse', XMLNS).leaf('requestId', requestId);
    xml.open('reservationSet');
    let openReservation: string | undefined;
    for (const id of page) {
      // A snapshot can name an instance removed since the first page; real EC2 drops it too.
      const instance = this.#instances.get(id);
      if (instance === undefined) continue;
      if (instance.reservationId !== openReservation) {
        if (openReservation !== undefined) xml.close('instancesSet').close('item');
        openReservation = instance.reservationId;
        xml
          .open('item')
          .leaf('reservationId', instance.reservationId)
          .leaf('ownerId', this.#options.accountId)
          .open('groupSet')
          .close('groupSet')
          .open('instancesSet');
      }
      writeInstance(xml, instance, this.#options.accountId);
    }
    if (openReservation !== undefined) xml.close('instancesSet').close('item');
    xml.close('reservationSet');
    xml.leaf('nextToken', next);
    return xml.close('DescribeInstancesResponse').toString();
  }

  #select(predicate: Predicate, includeManaged: boolean): string[] {
    const ids: string[] = [];
    for (const instance of this.#instances.values()) {
      if (!includeManaged && instance.operator?.hiddenByDefault === true) continue;
      if (predicate(instance)) ids.push(instance.instanceId);
    }
    return ids;
  }

  #selectByIds(ids: readonly string[], predicate: Predicate): string[] {
    const malformed = ids.find((id) => !INSTANCE_ID_PATTERN.test(id));
    if (malformed !== undefined) throw new AwsError('InvalidInstanceID.Malformed', `Invalid id: "${malformed}"`);
    const missing = ids.filter((id) => !this.#instances.has(id));
    if (missing.length === 1) {
      throw new AwsError('InvalidInstanceID.NotFound', `The instance ID '${missing[0]}' does not exist`);
    }
    if (missing.length > 1) {
      throw new AwsError('InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
    }
    const seen = new Set<string>();
    const selected: string[] = [];
    for (const id of ids) {
      const instance = this.#instances.get(id);
      if (instance === undefined || seen.has(id) || !predicate(instance)) continue;
      seen.add(id);
      selected.push(id);
    }
    return selected;
  }

  #modifyInstanceMetadataOptions(form: URLSearchParams, requestId: string): string {
    const instanceId = form.get('InstanceId');
    if (instanceId === null || instanceId === '') {
      throw new AwsError('MissingParameter', "The request must contain the parameter 'InstanceId'");
    }
    const requested = readMetadataOptions(form);
    if (!INSTANCE_ID_PATTERN.test(instanceId)) throw new AwsError('InvalidInstanceID.Malformed', `Invalid id: "${instanceId}"`);
    const instance = this.#instances.get(instanceId);
    if (instance === undefined) {
      throw new AwsError('InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
    }
    if (this.unauthorizedInstanceIds.has(instanceId)) {
      throw new AwsError(
        'UnauthorizedOperation',
        `You are not authorized to perform this operation. User: arn:aws:sts::${this.#options.accountId}:assumed-role/emulator/session is not authorized to perform: ec2:ModifyInstanceMetadataOptions on resource: arn:aws:ec2:${this.#options.region}:${this.#options.accountId}:instance/${instanceId}`,
        403,
      );
    }
    if (formBoolean(form, 'DryRun')) throw dryRunError();
    if (instance.state === 'terminated' || instance.state === 'shutting-down') {
      throw new AwsError(
        'IncorrectInstanceState',
        `The instance '${instanceId}' is not in a state from which it can be modified.`,
      );
    }

    instance.metadataOptions = { ...instance.metadataOptions, ...requested, state: 'pending' };
    this.#changes.push({ instanceId, at: new Date(), requested });
    this.#scheduleApply(instanceId);

    const options = instance.metadataOptions;
    const xml = new XmlWriter()
      .open('ModifyInstanceMetadataOptionsResponse', XMLNS)
      .leaf('requestId', requestId)
      .leaf('instanceId', instanceId);
    writeMetadataOptions(xml, 'instanceMetadataOptions', options);
    return xml.close('ModifyInstanceMetadataOptionsResponse').toString();
  }

  #scheduleApply(instanceId: string): void {
    this.#cancelApply(instanceId);
    const timer = setTimeout(() => {
      this.#timers.delete(instanceId);
      const instance = this.#instances.get(instanceId);
      if (instance !== undefined) instance.metadataOptions = { ...instance.metadataOptions, state: 'applied' };
    }, this.applyDelayMs);
    // A pending apply must not keep a test process alive.
    timer.unref();
    this.#timers.set(instanceId, timer);
  }

  #cancelApply(instanceId: string): void {
    const timer = this.#timers.get(instanceId);
    if (timer !== undefined) clearTimeout(timer);
    this.#timers.delete(instanceId);
  }

  #require(instanceId: string): Instance {
    const instance = this.#instances.get(instanceId);
    if (instance === undefined) throw new EmulatorUsageError(`no instance ${instanceId} in the emulator`);
    return instance;
  }
}

function compileFilters(form: URLSearchParams): Predicate {
  const predicates = indexes(form, 'Filter').map((i) => {
    const name = form.get(`Filter.${i}.Name`) ?? '';
    const values = formList(form, `Filter.${i}.Value`);
    if (values.length === 0) {
      throw new AwsError('InvalidParameterValue', `The filter '${name}' must have at least one value`);
    }
    return compileFilter(name, compileAny(values));
  });
  if (predicates.length === 0) return () => true;
  // Several filters are ANDed.
  return (instance) => predicates.every((p) => p(instance));
}

function compileFilter(name: string, match: Matcher): Predicate {
  if (name.startsWith('tag:')) {
    const key = name.slice('tag:'.length);
    return (i) => {
      const value = i.tags[key];
      return value !== undefined && match(value);
    };
  }
  switch (name) {
    case 'instance-id':
      return (i) => match(i.instanceId);
    case 'instance-state-name':
      return (i) => match(i.state);
    case 'instance-state-code':
      return (i) => match(String(STATE_CODES[i.state]));
    case 'instance-type':
      return (i) => match(i.instanceType);
    case 'tag-key':
      return (i) => Object.keys(i.tags).some(match);
    case 'tag-value':
      return (i) => Object.values(i.tags).some(match);
    case 'iam-instance-profile.arn':
      return (i) => i.iamInstanceProfile !== undefined && match(i.iamInstanceProfile.arn);
    case 'metadata-options.http-tokens':
      return (i) => match(i.metadataOptions.httpTokens);
    case 'metadata-options.http-put-response-hop-limit':
      return (i) => match(String(i.metadataOptions.httpPutResponseHopLimit));
    case 'metadata-options.http-endpoint':
      return (i) => match(i.metadataOptions.httpEndpoint);
    case 'metadata-options.instance-metadata-tags':
      return (i) => match(i.metadataOptions.instanceMetadataTags);
    case 'operator.managed':
      return (i) => match(String(i.operator?.managed ?? false));
    case 'operator.principal':
      return (i) => i.operator?.principal !== undefined && match(i.operator.principal);
    default:
      throw new AwsError('InvalidParameterValue', `The filter '${name}' is invalid`);
  }
}

function writeInstance(xml: XmlWriter, instance: Instance, accountId: string): void {
  xml
    .open('item')
    .leaf('instanceId', instance.instanceId)
    .leaf('imageId', instance.imageId)
    .open('instanceState')
    .leaf('code', STATE_CODES[instance.state])
    .leaf('name', instance.state)
    .close('instanceState')
    .leaf('privateDnsName', instance.privateDnsName)
    .leaf('instanceType', instance.instanceType)
    .leaf('launchTime', instance.launchTime)
    .open('placement')
    .leaf('availabilityZone', instance.availabilityZone)
    .leaf('tenancy', 'default')
    .close('placement');
  if (instance.detail !== undefined) writeNodeDetail(xml, instance, instance.detail, accountId);
  if (instance.iamInstanceProfile !== undefined) {
    xml
      .open('iamInstanceProfile')
      .leaf('arn', instance.iamInstanceProfile.arn)
      .leaf('id', instance.iamInstanceProfile.id)
      .close('iamInstanceProfile');
  }
  const tagKeys = Object.keys(instance.tags);
  if (tagKeys.length > 0) {
    xml.open('tagSet');
    for (const key of tagKeys) xml.open('item').leaf('key', key).leaf('value', instance.tags[key]).close('item');
    xml.close('tagSet');
  }
  writeMetadataOptions(xml, 'metadataOptions', instance.metadataOptions);
  // Current EC2 answers `Operator: { Managed: false }` for ordinary instances too.
  const operator = instance.operator ?? { managed: false };
  xml
    .open('operator')
    .leaf('managed', operator.managed)
    .leaf('principal', operator.principal)
    .leaf('hiddenByDefault', operator.hiddenByDefault)
    .close('operator');
  xml.close('item');
}

