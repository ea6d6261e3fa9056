import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { AwsError, EmulatorUsageError } from './errors.ts';
import { SnapshotPager } from './paging.ts';

export type ComplianceType = 'COMPLIANT' | 'NON_COMPLIANT' | 'NOT_APPLICABLE' | 'INSUFFICIENT_DATA';

const COMPLIANCE_TYPES: ReadonlySet<string> = new Set(['COMPLIANT', 'NON_COMPLIANT', 'NOT_APPLICABLE', 'INSUFFICIENT_DATA']);
const MAX_EVALUATIONS = 100;
const MAX_ANNOTATION = 256;

export interface StoredEvaluation {
  configRuleName: string;
  resourceType: string;
  resourceId: string;
  complianceType: ComplianceType;
  annotation?: string;
  orderingTimestamp: Date;
  resultRecordedTime: Date;
  configRuleInvokedTime: Date;
}

export interface EvaluationResultJson {
  evaluationResultIdentifier: {
    evaluationResultQualifier: { configRuleName: string; resourceType: string; resourceId: string; evaluationMode: 'DETECTIVE' };
    orderingTimestamp: string;
  };
  complianceType: ComplianceType;
  resultRecordedTime: string;
  configRuleInvokedTime: string;
  annotation?: string;
}

/** An EventBridge `Config Rules Compliance Change` event, as real Config sends it. */
export interface ComplianceChangeEvent {
  version: '0';
  id: string;
  'detail-type': 'Config Rules Compliance Change';
  source: 'aws.config';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: {
    resourceId: string;
    awsRegion: string;
    awsAccountId: string;
    configRuleName: string;
    recordVersion: '1.0';
    configRuleARN: string;
    messageType: 'ComplianceChangeNotification';
    newEvaluationResult: EvaluationResultJson;
    /** Absent on a resource's first evaluation by the rule. */
    oldEvaluationResult?: EvaluationResultJson;
    notificationCreationTime: string;
    resourceType: string;
  };
}

export interface ConfigRuleInfo {
  configRuleName: string;
  configRuleArn: string;
  configRuleId: string;
}

interface TokenGrant {
  configRuleName: string;
  invokedAt: Date;
}

interface ConfigOptions {
  accountId: string;
  region: string;
}

/** The account's customer managed configuration recorder, in the API's own (camelCase) shape. */
export interface RecorderSpec {
  name?: string;
  recordingGroup?: {
    allSupported?: boolean;
    includeGlobalResourceTypes?: boolean;
    resourceTypes?: string[];
    exclusionByResourceTypes?: { resourceTypes?: string[] };
    recordingStrategy?: { useOnly: 'ALL_SUPPORTED_RESOURCE_TYPES' | 'INCLUSION_BY_RESOURCE_TYPES' | 'EXCLUSION_BY_RESOURCE_TYPES' };
  };
  recordingMode?: {
    recordingFrequency: 'CONTINUOUS' | 'DAILY';
    recordingModeOverrides?: { description?: string; resourceTypes: string[]; recordingFrequency: 'CONTINUOUS' | 'DAILY' }[];
  };
  /** Whether the recorder is started (DescribeConfigurationRecorderStatus `recording`). */
  recording?: boolean;
}

/** What a console set-up with the defaults creates: every supported type, continuously, started. */
const DEFAULT_RECORDER: RecorderSpec = {
  name: 'default',
  recordingGroup: { allSupported: true, includeGlobalResourceTypes: false, resourceTypes: [], recordingStrategy: { useOnly: 'ALL_SUPPORTED_RESOURCE_TYPES' } },
  recordingMode: { recordingFrequency: 'CONTINUOUS', recordingModeOverrides: [] },
  recording: true,
};

type JsonObject = Record<string, unknown>;

export interface PutEvaluationsContext {
  /** Fault injection: true when this evaluation should come back in FailedEvaluations. */
  failEvaluation: () => boolean;
  /** Fault injection: a stricter annotation limit, in UTF-8 bytes, that refuses the whole request. */
  maxAnnotationBytes?: () => number | undefined;
}

export class ConfigService {
  readonly #options: ConfigOptions;
  readonly #rules = new Map<string, ConfigRuleInfo>();
  readonly #tokens = new Map<string, TokenGrant>();
  readonly #results = new Map<string, Map<string, StoredEvaluation>>();
  readonly #events: ComplianceChangeEvent[] = [];
  readonly #pager = new SnapshotPager<StoredEvaluation>();
  /** Evaluations recorded (what AWS Config bills): every accepted one outside TestMode. */
  recordedEvaluations = 0;
  #recorder: RecorderSpec | undefined = structuredClone(DEFAULT_RECORDER);
  readonly #recorderStarted = new Date();

  constructor(options: ConfigOptions) {
    this.#options = options;
  }

  /** Replaces the customer managed recorder (fields left out take the defaults); `undefined` deletes it. */
  setRecorder(recorder: RecorderSpec | undefined): void {
    this.#recorder = recorder === undefined ? undefined : { ...structuredClone(DEFAULT_RECORDER), ...structuredClone(recorder) };
  }

  describeConfigurationRecorders(input: JsonObject): JsonObject {
    const names = input['ConfigurationRecorderNames'];
    const recorders = this.#recorder === undefined ? [] : [this.#recorderJson(this.#recorder)];
    if (Array.isArray(names) && names.length > 0) {
      if (names.length > 1) throw validation("Value at 'configurationRecorderNames' failed to satisfy constraint: Member must have length less than or equal to 1");
      const wanted = String(names[0]);
      const found = recorders.filter((r) => r['name'] === wanted);
      if (found.length === 0) {
        throw new AwsError('NoSuchConfigurationRecorderException', `Cannot find configuration recorder with the specified name '${wanted}'.`);
      }
      return { ConfigurationRecorders: found };
    }
    return { ConfigurationRecorders: recorders };
  }

  describeConfigurationRecorderStatus(input: JsonObject): JsonObject {
    const names = input['ConfigurationRecorderNames'];
    const recorder = this.#recorder;
    if (Array.isArray(names) && names.length > 0 && (recorder === undefined || !names.includes(recorder.name))) {
      throw new AwsError('NoSuchConfigurationRecorderException', `Cannot find configuration recorder with the specified name '${String(names[0])}'.`);
    }
    if (recorder === undefined) return { ConfigurationRecordersStatus: [] };
    const since = epochSeconds(this.#recorderStarted);
    return {
      ConfigurationRecordersStatus: [
        {
          arn: this.#recorderArn(recorder),
          name: recorder.name,
          recording: recorder.recording ?? true,
          lastStatus: recorder.recording === false ? 'Pending' : 'Success',
          lastStartTime: since,
          ...(recorder.recording === false ? { lastStopTime: since } : {}),
          lastStatusChangeTime: since,
        },
      ],
    };
  }

  #recorderJson(recorder: RecorderSpec): JsonObject {
    const { recording: _recording, ...fields } = structuredClone(recorder);
    return {
      arn: this.#recorderArn(recorder),
      ...fields,
      roleARN: `arn:aws:iam::${this.#options.accountId}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig`,
      recordingScope: 'PAID',
    };
  }

  #recorderArn(recorder: RecorderSpec): string {
    const id = createHash('sha256').update(recorder.name ?? 'default').digest('hex').slice(0, 16);
    return `arn:aws:config:${this.#options.region}:${this.#options.accountId}:configuration-recorder/${recorder.name}/${id}`;
  }

  /** Rules exist once named here or by `resultTokenFor`; GetComplianceDetailsByConfigRule needs one. */
  createRule(configRuleName: string): ConfigRuleInfo {
    const existing = this.#rules.get(configRuleName);
    if (existing !== undefined) return { ...existing };
    const suffix = createHash('sha256').update(configRuleName).digest('base64url').replace(/[-_]/g, '').slice(0, 6).toLowerCase();
    const info: ConfigRuleInfo = {
      configRuleName,
      configRuleId: `config-rule-${suffix}`,
      configRuleArn: `arn:aws:config:${this.#options.region}:${this.#options.accountId}:config-rule/config-rule-${suffix}`,
    };
    this.#rules.set(configRuleName, info);
    this.#results.set(configRuleName, new Map());
    return { ...info };
  }

  /**
   * PutEvaluations carries no rule name: real Config knows the rule from the token it handed the
   * Lambda in the invocation event. Each call issues a fresh token bound to the rule.
   */
  resultTokenFor(configRuleName: string, invokedAt: Date = new Date()): string {
    this.createRule(configRuleName);
    const token = randomBytes(24).toString('base64');
    this.#tokens.set(token, { configRuleName, invokedAt });
    return token;
  }

  /** Seeds a stored result without emitting an event, e.g. a stale result for cleanup tests. */
  seedEvaluation(
    configRuleName: string,
    evaluation: Pick<StoredEvaluation, 'resourceType' | 'resourceId' | 'complianceType'> & Partial<StoredEvaluation>,
  ): void {
    this.createRule(configRuleName);
    const now = new Date();
    this.#resultsFor(configRuleName).set(resultKey(evaluation.resourceType, evaluation.resourceId), {
      orderingTimestamp: now,
      resultRecordedTime: now,
      configRuleInvokedTime: now,
      ...evaluation,
      configRuleName,
    });
  }

  evaluations(configRuleName: string): StoredEvaluation[] {
    return [...(this.#results.get(configRuleName)?.values() ?? [])].map((e) => ({ ...e }));
  }

  complianceEvents(): ComplianceChangeEvent[] {
    return structuredClone(this.#events);
  }

  drainComplianceEvents(): ComplianceChangeEvent[] {
    return this.#events.splice(0, this.#events.length);
  }

  ruleNames(): string[] {
    return [...this.#rules.keys()];
  }

  /** The rules named (all when none are), in the shape the report reads: name, ARN (with the account), id. */
  describeConfigRules(input: JsonObject): JsonObject {
    const names = input['ConfigRuleNames'];
    const wanted = Array.isArray(names) && names.length > 0 ? names.map(String) : [...this.#rules.keys()];
    const rules = wanted.map((name) => {
      const info = this.#rules.get(name);
      if (info === undefined) {
        throw new AwsError('NoSuchConfigRuleException', `The ConfigRule '${name}' provided in the request is invalid. Please check the configRule name.`);
      }
      return { ConfigRuleName: info.configRuleName, ConfigRuleArn: info.configRuleArn, ConfigRuleId: info.configRuleId, ConfigRuleState: 'ACTIVE' };
    });
    return { ConfigRules: rules };
  }

  rule(configRuleName: string): ConfigRuleInfo | undefined {
    const info = this.#rules.get(configRuleName);
    return info === undefined ? undefined : { ...info };
  }

  putEvaluations(input: JsonObject, context: PutEvaluationsContext): JsonObject {
    const evaluations = input['Evaluations'] ?? [];
    const token = input['ResultToken'];
    if (typeof token !== 'string') {
      throw validation("Value null at 'resultToken' failed to satisfy constraint: Member must not be null");
    }
    if (!Array.isArray(evaluations)) throw validation("Value at 'evaluations' failed to satisfy constraint: Member must be a list");
    if (evaluations.length > MAX_EVALUATIONS) {
      throw validation(
        `Value '[...${evaluations.length} evaluations]' at 'evaluations' failed to satisfy constraint: Member must have length less than or equal to ${MAX_EVALUATIONS}`,
      );
    }
    const parsed = evaluations.map((e: unknown, i: number) => parseEvaluation(e, i + 1));
    const maxBytes = context.maxAnnotationBytes?.();
    if (maxBytes !== undefined) {
      const index = parsed.findIndex((e) => e.annotation !== undefined && Buffer.byteLength(e.annotation, 'utf8') > maxBytes);
      if (index >= 0) {
        throw validation(
          `Value '${parsed[index]?.annotation}' at 'evaluations.${index + 1}.member.annotation' failed to satisfy constraint: Member must have length less than or equal to ${maxBytes}`,
        );
      }
    }
    // With TestMode the token need not be valid and nothing is recorded.
    if (input['TestMode'] === true) return { FailedEvaluations: [] };

    const grant = this.#tokens.get(token);
    if (grant === undefined) throw new AwsError('InvalidResultTokenException', 'The resultToken provided is invalid');

    const failed: JsonObject[] = [];
    for (const [i, evaluation] of parsed.entries()) {
      if (context.failEvaluation()) {
        failed.push(evaluations[i] as JsonObject);
        continue;
      }
      this.#record(grant, evaluation);
    }
    return { FailedEvaluations: failed };
  }

  getComplianceDetailsByConfigRule(input: JsonObject): JsonObject {
    const ruleName = input['ConfigRuleName'];
    if (typeof ruleName !== 'string' || ruleName === '') {
      throw validation("Value null at 'configRuleName' failed to satisfy constraint: Member must not be null");
    }
    const limitInput = input['Limit'];
    const limit = typeof limitInput === 'number' && limitInput !== 0 ? limitInput : 10;
    if (!Number.isInteger(limit) || limit < 0 || limit > 100) {
      throw validation(`Value '${String(limitInput)}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100`);
    }
    const results = this.#results.get(ruleName);
    if (results === undefined) {
      throw new AwsError(
        'NoSuchConfigRuleException',
        `The ConfigRule '${ruleName}' provided in the request is invalid. Please check the configRule name.`,
      );
    }
    const types = input['ComplianceTypes'];
    const wanted = Array.isArray(types) && types.length > 0 ? new Set(types.map(String)) : undefined;
    if (wanted?.has('INSUFFICIENT_DATA')) {
      throw new AwsError('InvalidParameterValueException', 'INSUFFICIENT_DATA cannot be used as a ComplianceType for filtering results.');
    }

    const nextToken = input['NextToken'];
    let page: readonly StoredEvaluation[];
    let next: string | undefined;
    if (typeof nextToken === 'string' && nextToken !== '') {
      const result = this.#pager.next(nextToken, limit);
      if (result === undefined) throw new AwsError('InvalidNextTokenException', 'The nextToken provided is invalid');
      ({ page, nextToken: next } = result);
    } else {
      const matching = [...results.values()].filter((e) => wanted === undefined || wanted.has(e.complianceType));
      ({ page, nextToken: next } = this.#pager.first(matching, limit));
    }
    const output: JsonObject = {
      EvaluationResults: page.map(evaluationResultWire),
    };
    if (next !== undefined) output['NextToken'] = next;
    return output;
  }

  #record(grant: TokenGrant, evaluation: ParsedEvaluation): void {
    this.recordedEvaluations++;
    const results = this.#resultsFor(grant.configRuleName);
    const key = resultKey(evaluation.resourceType, evaluation.resourceId);
    const previous = results.get(key);
    const stored: StoredEvaluation = {
      configRuleName: grant.configRuleName,
      ...evaluation,
      resultRecordedTime: new Date(),
      configRuleInvokedTime: grant.invokedAt,
    };
    results.set(key, stored);
    if (previous === undefined || previous.complianceType !== stored.complianceType) {
      this.#events.push(this.#changeEvent(stored, previous));
    }
  }

  #changeEvent(current: StoredEvaluation, previous: StoredEvaluation | undefined): ComplianceChangeEvent {
    const rule = this.#rules.get(current.configRuleName);
    if (rule === undefined) throw new EmulatorUsageError(`rule ${current.configRuleName} vanished`);
    const now = new Date();
    const detail: ComplianceChangeEvent['detail'] = {
      resourceId: current.resourceId,
      awsRegion: this.#options.region,
      awsAccountId: this.#options.accountId,
      configRuleName: current.configRuleName,
      recordVersion: '1.0',
      configRuleARN: rule.configRuleArn,
      messageType: 'ComplianceChangeNotification',
      newEvaluationResult: evaluationResultJson(current),
      notificationCreationTime: now.toISOString(),
      resourceType: current.resourceType,
    };
    if (previous !== undefined) detail.oldEvaluationResult = evaluationResultJson(previous);
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Config Rules Compliance Change',
      source: 'aws.config',
      account: this.#options.accountId,
      // EventBridge envelope times carry no milliseconds.
      time: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.#options.region,
      resources: [],
      detail,
    };
  }

  #resultsFor(configRuleName: string): Map<string, StoredEvaluation> {
    let results = this.#results.get(configRuleName);
    if (results === undefined) {
      results = new Map();
      this.#results.set(configRuleName, results);
    }
    return results;
  }
}

interface ParsedEvaluation {
  resourceType: string;
  resourceId: string;
  complianceType: ComplianceType;
  annotation?: string;
  orderingTimestamp: Date;
}

function parseEvaluation(raw: unknown, position: number): ParsedEvaluation {
  const at = `evaluations.${position}.member`;
  if (typeof raw !== 'object' || raw === null) throw validation(`Value at '${at}' failed to satisfy constraint: Member must not be null`);
  const e = raw as JsonObject;
  const resourceType = e['ComplianceResourceType'];
  const resourceId = e['ComplianceResourceId'];
  const complianceType = e['ComplianceType'];
  const annotation = e['Annotation'];
  const ordering = e['OrderingTimestamp'];
  if (typeof resourceType !== 'string' || resourceType.length < 1 || resourceType.length > 256) {
    throw validation(`Value '${String(resourceType)}' at '${at}.complianceResourceType' failed to satisfy constraint: Member must have length between 1 and 256`);
  }
  if (typeof resourceId !== 'string' || resourceId.length < 1 || resourceId.length > 768) {
    throw validation(`Value '${String(resourceId)}' at '${at}.complianceResourceId' failed to satisfy constraint: Member must have length between 1 and 768`);
  }
  if (typeof complianceType !== 'string' || !COMPLIANCE_TYPES.has(complianceType)) {
    throw validation(
      `Value '${String(complianceType)}' at '${at}.complianceType' failed to satisfy constraint: Member must satisfy enum value set: [COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, INSUFFICIENT_DATA]`,
    );
  }
  if (complianceType === 'INSUFFICIENT_DATA') {
    throw new AwsError('InvalidParameterValueException', 'INSUFFICIENT_DATA is not a valid ComplianceType for PutEvaluations.');
  }
  if (annotation !== undefined && (typeof annotation !== 'string' || annotation.length < 1 || annotation.length > MAX_ANNOTATION)) {
    throw validation(
      `Value '${String(annotation)}' at '${at}.annotation' failed to satisfy constraint: Member must have length between 1 and ${MAX_ANNOTATION}`,
    );
  }
  const orderingTimestamp = parseTimestamp(ordering);
  if (orderingTimestamp === undefined) {
    throw validation(`Value null at '${at}.orderingTimestamp' failed to satisfy constraint: Member must not be null`);
  }
  const parsed: ParsedEvaluation = { resourceType, resourceId, complianceType: complianceType as ComplianceType, orderingTimestamp };
  if (typeof annotation === 'string') parsed.annotation = annotation;
  return parsed;
}

function parseTimestamp(value: unknown): Date | undefined {
  if (typeof value === 'number') return new Date(value * 1000);
  if (typeof value === 'string') {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  return undefined;
}

/** A stored result as the Config API returns it (`EvaluationResult`, epoch-second timestamps). */
export function evaluationResultWire(e: StoredEvaluation): JsonObject {
  return {
    EvaluationResultIdentifier: {
      EvaluationResultQualifier: {
        ConfigRuleName: e.configRuleName,
        ResourceType: e.resourceType,
        ResourceId: e.resourceId,
        EvaluationMode: 'DETECTIVE',
      },
      OrderingTimestamp: epochSeconds(e.orderingTimestamp),
    },
    ComplianceType: e.complianceType,
    ResultRecordedTime: epochSeconds(e.resultRecordedTime),
    ConfigRuleInvokedTime: epochSeconds(e.configRuleInvokedTime),
    ...(e.annotation === undefined ? {} : { Annotation: e.annotation }),
  };
}

function evaluationResultJson(e: StoredEvaluation): EvaluationResultJson {
  const json: EvaluationResultJson = {
    evaluationResultIdentifier: {
      evaluationResultQualifier: {
        configRuleName: e.configRuleName,
        resourceType: e.resourceType,
        resourceId: e.resourceId,
        evaluationMode: 'DETECTIVE',
      },
      orderingTimestamp: e.orderingTimestamp.toISOString(),
    },
    complianceType: e.complianceType,
    resultRecordedTime: e.resultRecordedTime.toISOString(),
    configRuleInvokedTime: e.configRuleInvokedTime.toISOString(),
  };
  if (e.annotation !== undefined) json.annotation = e.annotation;
  return json;
}

function resultKey(resourceType: string, resourceId: string): string {
  return `${resourceType}\u0000${resourceId}`;
}

function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

function validation(detail: string): AwsError {
  return new AwsError('ValidationException', `1 validation error detected: ${detail}`);
}
