import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { CloudWatchService } from './cloudwatch.ts';
import { ConfigService, type ComplianceChangeEvent, type StoredEvaluation } from './config.ts';
import { Counter } from './counter.ts';
import { Ec2Service, type MetadataChange } from './ec2.ts';
import { AwsError } from './errors.ts';
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
import { SnsService, type PublishedMessage } from './sns.ts';
import { SqsService } from './sqs.ts';

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
 * One loopback endpoint for EC2, Config, SNS, CloudWatch and SQS. Point SDK clients at `url` (or set
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
  readonly sns: SnsService;
  readonly cloudwatch: CloudWatchService;
  readonly sqs: SqsService;
  readonly faults = new Faults();

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
    this.sns = new SnsService({ accountId: options.accountId, region: options.region });
    this.cloudwatch = new CloudWatchService();
    this.sqs = new SqsService({ accountId: options.accountId, region: options.region, origin: () => this.url });
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

  setInstanceState(instanceId: string, state: InstanceStateName): void {
    this.ec2.setState(instanceId, state);
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
      const operations = request.service === 'ec2' ? this.ec2.operations : request.service === 'sns' ? this.sns.operations : {};
      const op = operations[request.operation];
      return op === undefined ? undefined : () => xmlAnswer(op(request.form, requestId), requestId);
    }
    const { service, operation, input } = request;
    const key = `${service}:${operation}`;
    if (service === 'config') {
      switch (operation) {
        case 'PutEvaluations':
          return () =>
            jsonAnswer(service, this.config.putEvaluations(input, { failEvaluation: () => this.faults.failEvaluation(key) }), requestId);
        case 'GetComplianceDetailsByConfigRule':
          return () => jsonAnswer(service, this.config.getComplianceDetailsByConfigRule(input), requestId);
        case 'DescribeConfigurationRecorders':
          return () => jsonAnswer(service, this.config.describeConfigurationRecorders(input), requestId);
        case 'DescribeConfigurationRecorderStatus':
          return () => jsonAnswer(service, this.config.describeConfigurationRecorderStatus(input), requestId);
        default:
          return undefined;
      }
    }
    const op = service === 'cloudwatch' ? this.cloudwatch.operations[operation] : service === 'sqs' ? this.sqs.operations[operation] : undefined;
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
