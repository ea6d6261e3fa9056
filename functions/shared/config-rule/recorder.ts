import {
  DescribeConfigurationRecordersCommand,
  DescribeConfigurationRecorderStatusCommand,
  type ConfigServiceClient,
  type ConfigurationRecorder,
  type ConfigurationRecorderStatus,
} from '@aws-sdk/client-config-service';

/**
 * How AWS Config records one resource type, as far as a rule cares:
 * - `continuous`: every change makes a configuration item, and change-triggered evaluations follow within minutes;
 * - `daily`: at most one item a day, so change-triggered evaluations can lag up to 24 hours;
 * - `not-recorded`: the recorder leaves the type out: only a periodic sweep ever judges it;
 * - `recorder-stopped`: the type is in scope, but the recorder is not recording;
 * - `no-recorder`: the account and region have no customer managed recorder;
 * - `unknown`: the recorder could not be read (the reason says why).
 */
export type Recording = 'continuous' | 'daily' | 'not-recorded' | 'recorder-stopped' | 'no-recorder' | 'unknown';

export interface RecorderCoverage {
  readonly resourceType: string;
  readonly recording: Recording;
  /** The customer managed recorder's name, when there is one. */
  readonly recorder?: string;
  /** Why the answer is `unknown`: the error the read failed with. */
  readonly reason?: string;
}

/** A recorder linked to another AWS service (it names a servicePrincipal) records for that service, not for rules. */
const isCustomerManaged = (recorder: ConfigurationRecorder) => recorder.servicePrincipal === undefined;

/**
 * Whether a recorder records `resourceType`, and how often. Pure: the rules are those of the
 * RecordingGroup and RecordingMode API documentation (an absent group records every supported type;
 * an override naming the type wins over the default frequency).
 */
export function coverageOf(
  resourceType: string,
  recorder: ConfigurationRecorder | undefined,
  status: ConfigurationRecorderStatus | undefined,
): RecorderCoverage {
  if (recorder === undefined) return { resourceType, recording: 'no-recorder' };
  const named = recorder.name === undefined ? {} : { recorder: recorder.name };
  if (!inRecordingGroup(resourceType, recorder)) return { resourceType, recording: 'not-recorded', ...named };
  if (status === undefined) return { resourceType, recording: 'unknown', ...named, reason: 'the recorder has no status' };
  if (status.recording !== true) return { resourceType, recording: 'recorder-stopped', ...named };
  const mode = recorder.recordingMode;
  const override = mode?.recordingModeOverrides?.find((o) => names(o.resourceTypes, resourceType));
  const frequency = override?.recordingFrequency ?? mode?.recordingFrequency ?? 'CONTINUOUS';
  return { resourceType, recording: frequency === 'DAILY' ? 'daily' : 'continuous', ...named };
}

function inRecordingGroup(resourceType: string, recorder: ConfigurationRecorder): boolean {
  const group = recorder.recordingGroup;
  if (group === undefined) return true;
  switch (group.recordingStrategy?.useOnly) {
    case 'EXCLUSION_BY_RESOURCE_TYPES':
      return !names(group.exclusionByResourceTypes?.resourceTypes, resourceType);
    case 'INCLUSION_BY_RESOURCE_TYPES':
      return names(group.resourceTypes, resourceType);
    case 'ALL_SUPPORTED_RESOURCE_TYPES':
      return true;
    default:
      // Older recorders carry no strategy: allSupported or the listed types decide.
      return group.allSupported === true || names(group.resourceTypes, resourceType);
  }
}

/** The SDK types resource types as a closed union; the rule's own are plain strings. */
const names = (types: readonly string[] | undefined, resourceType: string) => (types ?? []).includes(resourceType);

/**
 * Reads the account's customer managed recorder and its status (two calls, side by side) and
 * answers for each of `resourceTypes`. Never throws: the answer is information for the log, a
 * metric and the scan, and a rule must not fail because it cannot read it.
 */
export async function describeRecorderCoverage(
  config: Pick<ConfigServiceClient, 'send'>,
  resourceTypes: readonly string[],
): Promise<RecorderCoverage[]> {
  try {
    // Without names, both calls answer for the customer managed recorder (service-linked ones may be listed too).
    const [recorders, statuses] = await Promise.all([
      config.send(new DescribeConfigurationRecordersCommand({})),
      config.send(new DescribeConfigurationRecorderStatusCommand({})),
    ]);
    const recorder = (recorders.ConfigurationRecorders ?? []).find(isCustomerManaged);
    const status = (statuses.ConfigurationRecordersStatus ?? []).find((s) => s.name === recorder?.name);
    return resourceTypes.map((resourceType) => coverageOf(resourceType, recorder, status));
  } catch (error) {
    const { name, message } = error as Error;
    return resourceTypes.map((resourceType) => ({ resourceType, recording: 'unknown', reason: `${name}: ${message}` }));
  }
}

/** One line a person reads: what the recording means for this rule's results. */
export function describeCoverage(coverage: RecorderCoverage): string {
  const by = coverage.recorder === undefined ? '' : ` by recorder ${coverage.recorder}`;
  switch (coverage.recording) {
    case 'continuous':
      return `${coverage.resourceType} recorded continuously${by}: changes are evaluated within minutes`;
    case 'daily':
      return `${coverage.resourceType} recorded daily${by}: change-triggered evaluations can lag up to 24 hours; the periodic sweep catches up sooner`;
    case 'not-recorded':
      return `${coverage.resourceType} not recorded${by}: only the periodic sweep evaluates it`;
    case 'recorder-stopped':
      return `configuration recorder${by} is stopped: no change-triggered evaluations; only the periodic sweep evaluates ${coverage.resourceType}`;
    case 'no-recorder':
      return `no configuration recorder in this account and region: only the periodic sweep evaluates ${coverage.resourceType}`;
    case 'unknown':
      return `recording of ${coverage.resourceType} unknown (${coverage.reason ?? 'no reason given'})`;
  }
}
