import {
  ConfigServiceClient,
  DescribeConfigurationRecordersCommand,
  DescribeConfigurationRecorderStatusCommand,
  type ConfigurationRecorder,
} from '@aws-sdk/client-config-service';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { startEmulator, type Emulator } from '../../../emulator/index.ts';
import { coverageOf, describeCoverage, describeRecorderCoverage } from '../../../functions/shared/config-rule/recorder.ts';
import { clientsFor, destroy, type Clients } from '../../emulator/clients.ts';

const EC2 = 'AWS::EC2::Instance';
const ON = { name: 'default', recording: true };

describe('coverageOf', () => {
  it.each<[string, ConfigurationRecorder, string]>([
    ['an absent recording group (every supported type)', { name: 'default' }, 'continuous'],
    ['allSupported', { name: 'default', recordingGroup: { allSupported: true } }, 'continuous'],
    ['ALL_SUPPORTED_RESOURCE_TYPES', { name: 'default', recordingGroup: { recordingStrategy: { useOnly: 'ALL_SUPPORTED_RESOURCE_TYPES' } } }, 'continuous'],
    [
      'an inclusion list naming the type',
      { name: 'default', recordingGroup: { resourceTypes: [EC2], recordingStrategy: { useOnly: 'INCLUSION_BY_RESOURCE_TYPES' } } },
      'continuous',
    ],
    [
      'an inclusion list without the type',
      { name: 'default', recordingGroup: { resourceTypes: ['AWS::EC2::Volume'], recordingStrategy: { useOnly: 'INCLUSION_BY_RESOURCE_TYPES' } } },
      'not-recorded',
    ],
    ['an old-style list without the type', { name: 'default', recordingGroup: { allSupported: false, resourceTypes: ['AWS::S3::Bucket'] } }, 'not-recorded'],
    [
      'an exclusion list naming the type',
      {
        name: 'default',
        recordingGroup: { exclusionByResourceTypes: { resourceTypes: [EC2] }, recordingStrategy: { useOnly: 'EXCLUSION_BY_RESOURCE_TYPES' } },
      },
      'not-recorded',
    ],
    [
      'an exclusion list without the type',
      {
        name: 'default',
        recordingGroup: { exclusionByResourceTypes: { resourceTypes: ['AWS::EC2::Volume'] }, recordingStrategy: { useOnly: 'EXCLUSION_BY_RESOURCE_TYPES' } },
      },
      'continuous',
    ],
    ['daily recording', { name: 'default', recordingMode: { recordingFrequency: 'DAILY' } }, 'daily'],
    [
      'daily recording with a continuous override for the type',
      {
        name: 'default',
        recordingMode: { recordingFrequency: 'DAILY', recordingModeOverrides: [{ resourceTypes: [EC2], recordingFrequency: 'CONTINUOUS' }] },
      },
      'continuous',
    ],
    [
      'continuous recording with a daily override for the type',
      {
        name: 'default',
        recordingMode: {
          recordingFrequency: 'CONTINUOUS',
          recordingModeOverrides: [
            { resourceTypes: ['AWS::S3::Bucket'], recordingFrequency: 'CONTINUOUS' },
            { resourceTypes: ['AWS::EC2::Volume', EC2], recordingFrequency: 'DAILY' },
          ],
        },
      },
      'daily',
    ],
  ])('%s → %s', (_case, recorder, recording) => {
    expect(coverageOf(EC2, recorder, ON)).toEqual({ resourceType: EC2, recorder: 'default', recording });
  });

  it('says no-recorder, recorder-stopped and unknown when those hold', () => {
    expect(coverageOf(EC2, undefined, undefined)).toEqual({ resourceType: EC2, recording: 'no-recorder' });
    expect(coverageOf(EC2, { name: 'default' }, { name: 'default', recording: false })).toMatchObject({ recording: 'recorder-stopped' });
    expect(coverageOf(EC2, { name: 'default' }, undefined)).toMatchObject({ recording: 'unknown', reason: 'the recorder has no status' });
  });

  it('reports a type the recorder leaves out as not recorded even when the recorder is stopped', () => {
    const recorder: ConfigurationRecorder = { name: 'default', recordingGroup: { resourceTypes: ['AWS::S3::Bucket'] } };
    expect(coverageOf(EC2, recorder, { name: 'default', recording: false })).toMatchObject({ recording: 'not-recorded' });
  });
});

describe('describeRecorderCoverage against the emulator', () => {
  let emulator: Emulator;
  let clients: Clients;

  beforeAll(async () => {
    emulator = await startEmulator();
    clients = clientsFor(emulator, { maxAttempts: 1 });
  });

  afterAll(async () => {
    destroy(clients);
    await emulator.close();
  });

  beforeEach(() => {
    emulator.config.setRecorder({});
    emulator.resetCalls();
  });

  it('reads the default recorder in two calls: every type, continuously, recording', async () => {
    expect(await describeRecorderCoverage(clients.config, [EC2])).toEqual([{ resourceType: EC2, recorder: 'default', recording: 'continuous' }]);
    expect(emulator.requests.entries().sort()).toEqual([
      ['config:DescribeConfigurationRecorderStatus', 1],
      ['config:DescribeConfigurationRecorders', 1],
    ]);
  });

  it('sees a daily override for instances and a stopped recorder', async () => {
    emulator.config.setRecorder({
      name: 'main',
      recordingMode: { recordingFrequency: 'CONTINUOUS', recordingModeOverrides: [{ resourceTypes: [EC2], recordingFrequency: 'DAILY' }] },
    });
    const [daily] = await describeRecorderCoverage(clients.config, [EC2]);
    expect(daily).toEqual({ resourceType: EC2, recorder: 'main', recording: 'daily' });
    expect(describeCoverage(daily!)).toBe(`${EC2} recorded daily by recorder main: change-triggered evaluations can lag up to 24 hours; the periodic sweep catches up sooner`);

    emulator.config.setRecorder({ recording: false });
    expect(await describeRecorderCoverage(clients.config, [EC2])).toEqual([{ resourceType: EC2, recorder: 'default', recording: 'recorder-stopped' }]);
  });

  it('answers no-recorder when the account has none', async () => {
    emulator.config.setRecorder(undefined);
    expect(await describeRecorderCoverage(clients.config, [EC2])).toEqual([{ resourceType: EC2, recording: 'no-recorder' }]);
  });

  it('answers unknown with the reason instead of throwing when the read fails', async () => {
    emulator.faults.set('config:DescribeConfigurationRecorders', { unavailableNext: 1 });
    const [coverage] = await describeRecorderCoverage(clients.config, [EC2]);
    expect(coverage).toMatchObject({ resourceType: EC2, recording: 'unknown', reason: expect.stringMatching(/^ServiceUnavailable/) });
    emulator.faults.clear();
  });
});

describe('describeRecorderCoverage with service-linked recorders', () => {
  it('judges by the customer managed recorder and ignores one linked to another service', async () => {
    // Mocked here, not at module scope: the emulator tests above use real clients.
    const config = mockClient(ConfigServiceClient);
    onTestFinished(() => config.restore());
    config.on(DescribeConfigurationRecordersCommand).resolves({
      ConfigurationRecorders: [
        { name: 'AWSConfigurationRecorderForCloudWatch', servicePrincipal: 'telemetry.cloudwatch.amazonaws.com', recordingGroup: { resourceTypes: [EC2] } },
        { name: 'default', recordingGroup: { resourceTypes: ['AWS::S3::Bucket'] } },
      ],
    });
    config.on(DescribeConfigurationRecorderStatusCommand).resolves({ ConfigurationRecordersStatus: [{ name: 'default', recording: true }] });
    const client = new ConfigServiceClient({ region: 'us-east-1' });
    expect(await describeRecorderCoverage(client, [EC2])).toEqual([{ resourceType: EC2, recorder: 'default', recording: 'not-recorded' }]);
  });
});
