import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { CloudWatchService } from './cloudwatch.ts';
import { ConfigService, type ComplianceChangeEvent, type StoredEvaluation } from './config.ts';
import { ConfigAggregatorService, type SeededEvaluation } from './config-aggregator.ts';
import { Counter } from './counter.ts';
import { Ec2Service, type LaunchOptions, type MetadataChange, type StateChangeEvent } from './ec2.ts';
import { AutoScalingService, type AutoScalingGroupSpec, type LaunchConfigurationSpec } from './autoscaling.ts';
import { AwsError } from './errors.ts';
import { EventsService, type PutEvent } from './events.ts';
import { Faults } from './faults.ts';
import type { Instance, InstanceSpec, InstanceStateName } from './instance.ts';
import {
  errorAnswer,
  injectedError,
  jsonAnswer,
  parseRequest,
  unknownOperation,
  xmlAnswer,
  type HttpAnswer,
  type ParsedRequest,
} from './protocol.ts';
import { LaunchTemplateService, type AccountMetadataDefaults, type ImageSpec, type LaunchTemplateSpec } from './launch-templates.ts';
import { SnsService, type PublishedMessage } from './sns.ts';
import { SqsService } from './sqs.ts';
import { StsService } from './sts.ts';

export interface EmulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  accountId?: string;
  region?: string;
  /** How long ModifyInstanceMetadataOptions leaves an instance's options `pending`. */
  applyDelayMs?: number;
}

const OPTION_KEYS: ReadonlySet<string> = new Set(['port', 'accountId', 'region', 'applyDelayMs']);

/**
 * One loopback endpoint for EC2, Config, SNS, CloudWatch, SQS and EventBridge. Point SDK clients at `url` (or set
 * `AWS_ENDPOINT_URL`); the service is told apart by `X-Amz-Target` for the JSON protocols and
 * by the SigV4 credential scope for the query protocols.
 */
export class Emulator {
  readonly url: string;
  readonly port: number;
  readonly accountId: string;
  readonly region: string;

  readonly ec2: Ec2Service;
  readonly config: ConfigService;
  readonly configAggregators: ConfigAggregatorService;
  readonly sns: SnsService;
  readonly cloudwatch: CloudWatchService;
  readonly sqs: SqsService;
  readonly eventBridge: EventsService;
  /** Launch templates and versions, the account's IMDS defaults and AMIs (EC2 operations). */
  readonly launchTemplates: LaunchTemplateService;
  readonly autoscaling: AutoScalingService;
  readonly sts: StsService;
  readonly faults = new Faults();
  /** Operations (`config:GetAggregateComplianceDetailsByConfigRule`) answered as the caller's IAM policy forbidding them. */
  readonly deniedOperations = new Set<string>();

  /** Every request that named a known operation, whatever its outcome. */
  readonly requests = new Counter();
  /** Requests answered with success. */
  readonly calls = new Counter();
  /** Requests answered with an injected throttling error. */
  readonly throttled = new Counter();
  /** Requests answered with any other error: injected 5xx and real API errors alike. */
  readonly errors = new Counter();

  readonly #server: Server;

  constructor(server: Server, options: Required<EmulatorOptions>) {
    this.#server = server;
    this.port = (server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    this.accountId = options.accountId;
    this.region = options.region;
    this.ec2 = new Ec2Service({ accountId: options.accountId, region: options.region, applyDelayMs: options.applyDelayMs });
    this.config = new ConfigService({ accountId: options.accountId, region: options.region });
    const config = this.config;
    this.configAggregators = new ConfigAggregatorService({
      accountId: options.accountId,
      region: options.region,
      ruleNames: () => config.ruleNames(),
      evaluations: (ruleName) => config.evaluations(ruleName),
    });
    this.sns = new SnsService({ accountId: options.accountId, region: options.region });
    this.cloudwatch = new CloudWatchService();
    this.sqs = new SqsService({ accountId: options.accountId, region: options.region, origin: () => this.url });
    this.eventBridge = new EventsService({ accountId: options.accountId, region: options.region });
    this.launchTemplates = new LaunchTemplateService({ accountId: options.accountId, region: options.region });
    this.autoscaling = new AutoScalingService({
      accountId: options.accountId,
      region: options.region,
      launch: (spec) => this.ec2.add(spec),
      templates: this.launchTemplates,
    });
    this.sts = new StsService(options.accountId);
    this.#ec2Operations = { ...this.ec2.operations, ...this.launchTemplates.operations };
  }

  readonly #ec2Operations: Record<string, (form: URLSearchParams, requestId: string) => string>;

  addLaunchTemplate(spec: LaunchTemplateSpec = {}): string {
    return this.launchTemplates.add(spec);
  }

  /** Sets GetInstanceMetadataDefaults' answer; absent fields are "no preference". */
  setAccountMetadataDefaults(defaults: AccountMetadataDefaults): void {
    this.launchTemplates.setAccountDefaults(defaults);
  }

  addImage(image: ImageSpec): void {
    this.launchTemplates.addImage(image);
  }

  addLaunchConfiguration(spec: LaunchConfigurationSpec): void {
    this.autoscaling.addLaunchConfiguration(spec);
  }

  /** Creates the group and launches its desired capacity from what it names, as Auto Scaling would. */
  addAutoScalingGroup(spec: AutoScalingGroupSpec): string {
    return this.autoscaling.add(spec);
  }

  /**
   * Launches one instance from a launch template (RunInstances/CreateFleet with no metadata
   * options of their own, as Karpenter does): options resolved as EC2 would, the template's instance tags.
   */
  launchFromTemplate(idOrName: string, version?: string, tags: Record<string, string> = {}): string {
    return this.ec2.add(this.launchTemplates.instanceSpecFor(idOrName, version, tags));
  }

  /** Environment for a process under test that builds its own SDK clients. */
  clientEnv(): Record<string, string> {
    return {
      AWS_ENDPOINT_URL: this.url,
      AWS_REGION: this.region,
      AWS_ACCESS_KEY_ID: 'AKIDEMULATOR',
      AWS_SECRET_ACCESS_KEY: 'emulator-secret',
    };
  }

  addInstance(spec: InstanceSpec = {}): string {
    return this.ec2.add(spec);
  }

  addInstances(specs: Iterable<InstanceSpec>): string[] {
    const ids: string[] = [];
    for (const spec of specs) ids.push(this.ec2.add(spec));
    return ids;
  }

  /** A copy: change instances through the methods below. */
  getInstance(instanceId: string): Instance | undefined {
    return this.ec2.get(instanceId);
  }

  instances(): Instance[] {
    return this.ec2.all();
  }

  updateInstance(instanceId: string, patch: Parameters<Ec2Service['update']>[1]): void {
    this.ec2.update(instanceId, patch);
  }

  /** Emits the state-change event when the state differs. */
  setInstanceState(instanceId: string, state: InstanceStateName): void {
    this.ec2.setState(instanceId, state);
  }

  /** A launch: `pending` then `running`, each with its EventBridge state-change event. */
  launchInstance(spec: InstanceSpec = {}, options?: LaunchOptions): string {
    return this.ec2.launch(spec, options);
  }

  stateChangeEvents(): StateChangeEvent[] {
    return this.ec2.stateChangeEvents();
  }

  drainStateChangeEvents(): StateChangeEvent[] {
    return this.ec2.drainStateChangeEvents();
  }

  onStateChange(listener: (event: StateChangeEvent) => void): () => void {
    return this.ec2.onStateChange(listener);
  }

  removeInstance(instanceId: string): void {
    this.ec2.remove(instanceId);
  }

  /** ModifyInstanceMetadataOptions on these ids answers UnauthorizedOperation. */
  get unauthorizedInstanceIds(): Set<string> {
    return this.ec2.unauthorizedInstanceIds;
  }

  set applyDelayMs(ms: number) {
    this.ec2.applyDelayMs = ms;
  }

  get applyDelayMs(): number {
    return this.ec2.applyDelayMs;
  }

  metadataChanges(instanceId?: string): MetadataChange[] {
    return this.ec2.metadataChanges(instanceId);
  }

  resultTokenFor(configRuleName: string, invokedAt?: Date): string {
    return this.config.resultTokenFor(configRuleName, invokedAt);
  }

  evaluations(configRuleName: string): StoredEvaluation[] {
    return this.config.evaluations(configRuleName);
  }

  complianceEvents(): ComplianceChangeEvent[] {
    return this.config.complianceEvents();
  }

  drainComplianceEvents(): ComplianceChangeEvent[] {
    return this.config.drainComplianceEvents();
  }

  /** An organization aggregator over this emulator's results and those seeded for other accounts and regions. */
  createAggregator(name: string): void {
    this.configAggregators.createAggregator(name);
  }

  /** Results of another account or region, as that account's rule would have written them, for aggregator reads. */
  seedAccountEvaluations(source: { accountId: string; region: string }, configRuleName: string, evaluations: Iterable<SeededEvaluation>): void {
    for (const evaluation of evaluations) this.configAggregators.seedEvaluation(source, configRuleName, evaluation);
  }

  createTopic(name: string): string {
    return this.sns.createTopic(name);
  }

  published(topicArn?: string): PublishedMessage[] {
    return this.sns.published(topicArn);
  }

  /** A standard queue; `attributes` as CreateQueue takes them (VisibilityTimeout, RedrivePolicy, ...). */
  createQueue(name: string, attributes: Record<string, string> = {}): string {
    return this.sqs.createQueue(name, attributes);
  }

  /** Events sent with PutEvents (any bus), optionally of one source. */
  putEvents(source?: string): PutEvent[] {
    return this.eventBridge.events(source);
  }

  /** Seeds the `AWS/EC2` `MetadataNoToken` metric: IMDSv1 calls seen on the instance. */
  setImdsV1Calls(instanceId: string, count: number, at?: Date): void {
    this.cloudwatch.setInstanceMetric(instanceId, 'MetadataNoToken', count, at);
  }

  resetCalls(): void {
    this.requests.reset();
    this.calls.reset();
    this.throttled.reset();
    this.errors.reset();
  }

  async close(): Promise<void> {
    this.ec2.close();
    const closed = new Promise<void>((resolve, reject) => this.#server.close((err) => (err ? reject(err) : resolve())));
    this.#server.closeAllConnections();
    await closed;
  }

  /** @internal */
  async answer(request: ParsedRequest, requestId: string): Promise<HttpAnswer> {
    if (request.kind === 'unroutable') return errorAnswer(request.service, request.error, requestId);
    const { service, operation } = request;
    const handler = this.#handler(request, requestId);
    if (handler === undefined) return errorAnswer(service, unknownOperation(service, operation), requestId);

    const key = `${service}:${operation}`;
    this.requests.increment(key);
    const latency = this.faults.latencyMs(key);
    if (latency > 0) await sleep(latency);
    if (this.deniedOperations.has(key)) {
      this.errors.increment(key);
      const code = service === 'ec2' ? 'UnauthorizedOperation' : 'AccessDeniedException';
      const message = `User: arn:aws:sts::${this.accountId}:assumed-role/emulator/session is not authorized to perform: ${key} because no identity-based policy allows the ${key} action`;
      return errorAnswer(service, new AwsError(code, message), requestId);
    }
    const fault = this.faults.nextOutcome(key);
    if (fault !== undefined) {
      (fault === 'throttle' ? this.throttled : this.errors).increment(key);
      return errorAnswer(service, injectedError(service, fault), requestId);
    }
    try {
      const answer = handler();
      this.calls.increment(key);
      return answer;
    } catch (error) {
      this.errors.increment(key);
      if (error instanceof AwsError) return errorAnswer(service, error, requestId);
      throw error;
    }
  }

  #handler(request: Exclude<ParsedRequest, { kind: 'unroutable' }>, requestId: string): (() => HttpAnswer) | undefined {
    if (request.kind === 'query') {
      const operations =
        request.service === 'ec2'
          ? this.#ec2Operations
          : request.service === 'sns'
            ? this.sns.operations
            : request.service === 'autoscaling'
              ? this.autoscaling.operations
              : request.service === 'sts'
                ? this.sts.operations
                : {};
      const op = operations[request.operation];
      return op === undefined ? undefined : () => xmlAnswer(op(request.form, requestId), requestId);
    }
    const { service, operation, input } = request;
    const key = `${service}:${operation}`;
    if (service === 'config') {
      switch (operation) {
        case 'PutEvaluations':
          return () =>
            jsonAnswer(service, this.config.putEvaluations(input, {
                failEvaluation: () => this.faults.failEvaluation(key),
                maxAnnotationBytes: () => this.faults.maxAnnotationBytes(key),
              }), requestId);
        case 'GetComplianceDetailsByConfigRule':
          return () => jsonAnswer(service, this.config.getComplianceDetailsByConfigRule(input), requestId);
        case 'DescribeConfigRules':
          return () => jsonAnswer(service, this.config.describeConfigRules(input), requestId);
        case 'DescribeAggregateComplianceByConfigRules':
          return () => jsonAnswer(service, this.configAggregators.describeAggregateComplianceByConfigRules(input), requestId);
        case 'GetAggregateComplianceDetailsByConfigRule':
          return () => jsonAnswer(service, this.configAggregators.getAggregateComplianceDetailsByConfigRule(input), requestId);
        case 'DescribeConfigurationRecorders':
          return () => jsonAnswer(service, this.config.describeConfigurationRecorders(input), requestId);
        case 'DescribeConfigurationRecorderStatus':
          return () => jsonAnswer(service, this.config.describeConfigurationRecorderStatus(input), requestId);
        default:
          return undefined;
      }
    }
    const operations =
      service === 'cloudwatch' ? this.cloudwatch.operations : service === 'sqs' ? this.sqs.operations : service === 'events' ? this.eventBridge.operations : {};
    const op = operations[operation];
    return op === undefined ? undefined : () => jsonAnswer(service, op(input), requestId);
  }
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new TypeError(`unknown emulator option '${key}'`);
  }
  const resolved: Required<EmulatorOptions> = {
    port: options.port ?? 0,
    accountId: options.accountId ?? '123456789012',
    region: options.region ?? 'us-east-1',
    applyDelayMs: options.applyDelayMs ?? 50,
  };
  let emulator: Emulator | undefined;
  const server = createServer((req, res) => {
    if (emulator === undefined) {
      res.writeHead(503).end();
      return;
    }
    serve(emulator, req, res);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(resolved.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  emulator = new Emulator(server, resolved);
  return emulator;
}

function serve(emulator: Emulator, req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const requestId = randomUUID();
    const body = Buffer.concat(chunks).toString('utf8');
    emulator
      .answer(parseRequest(req.headers, body), requestId)
      .then((answer) => {
        res.writeHead(answer.status, answer.headers).end(answer.body);
      })
      .catch((error: unknown) => {
        // A bug in the emulator: surface it as a 500 the SDK reports, and in the test output.
        console.error('emulator: unhandled error', error);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(error));
      });
  });
}
