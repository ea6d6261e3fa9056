import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runScan } from '../../cli/scan.ts';
import { runWithoutCredentials } from './without-credentials.ts';
import { eksctlNode, karpenterNode, managedNodeGroupNode, plainInstance, seedSourcesFleet, startEmulator, type Emulator } from '../../emulator/index.ts';

let emulator: Emulator;
const savedEndpoint = process.env.AWS_ENDPOINT_URL;

beforeAll(async () => {
  emulator = await startEmulator();
  process.env.AWS_ENDPOINT_URL = emulator.url;
});

afterAll(async () => {
  if (savedEndpoint === undefined) delete process.env.AWS_ENDPOINT_URL;
  else process.env.AWS_ENDPOINT_URL = savedEndpoint;
  await emulator.close();
});

beforeEach(() => {
  emulator.config.setRecorder({});
  for (const instance of emulator.instances()) emulator.removeInstance(instance.instanceId);
  // Right account defaults, no groups or templates: only the nodes decide, unless a test seeds sources.
  emulator.setAccountMetadataDefaults({ httpTokens: 'required', httpPutResponseHopLimit: 2 });
  emulator.resetCalls();
  emulator.faults.clear();
});

async function scan(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runScan(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

describe('npm run scan', () => {
  it('exits 1 and lists what is wrong when a node is non-compliant', async () => {
    const bad = emulator.addInstance(managedNodeGroupNode({ cluster: 'prod', hopLimit: 1 }));
    const good = emulator.addInstance(eksctlNode({ cluster: 'prod' }));
    emulator.addInstance(plainInstance());

    const { code, stdout, stderr } = await scan('--region', 'us-east-1');

    expect(code).toBe(1);
    expect(stdout).toMatch(new RegExp(`${bad}\\s+prod\\s+managed-node-group\\s+NON_COMPLIANT\\s+HopLimit 1 \\(want >=2\\); cluster "prod"`));
    expect(stdout).toMatch(new RegExp(`${good}\\s+prod\\s+eksctl\\s+COMPLIANT`));
    expect(stdout).toContain('2 instance(s): 1 compliant, 1 non-compliant, 0 not applicable');
    expect(stderr).toContain('scan: 2 instance(s) read');
    expect(stdout).toContain('AWS Config: AWS::EC2::Instance recorded continuously by recorder default: changes are evaluated within minutes');
    // Read-only: one filtered page of nodes, the recorder's settings, then the sources (no groups or templates here).
    expect(emulator.requests.entries().sort()).toEqual([
      ['autoscaling:DescribeAutoScalingGroups', 1],
      ['config:DescribeConfigurationRecorderStatus', 1],
      ['config:DescribeConfigurationRecorders', 1],
      ['ec2:DescribeInstances', 1],
      ['ec2:DescribeLaunchTemplateVersions', 2],
      ['ec2:DescribeLaunchTemplates', 1],
      ['ec2:GetInstanceMetadataDefaults', 1],
      ['sts:GetCallerIdentity', 1],
    ]);
    expect(stdout).toMatch(new RegExp(`account\\s+${emulator.accountId}\\s+COMPLIANT`));
  });

  it('says in the table and the JSON when AWS Config records instances only daily', async () => {
    emulator.config.setRecorder({ recordingMode: { recordingFrequency: 'DAILY' } });
    emulator.addInstance(eksctlNode({ cluster: 'prod' }));

    const table = await scan();
    expect(table.stdout).toContain('AWS Config: AWS::EC2::Instance recorded daily by recorder default: change-triggered evaluations can lag up to 24 hours');

    const json = JSON.parse((await scan('--format', 'json')).stdout);
    expect(json.recorder).toEqual({ resourceType: 'AWS::EC2::Instance', recorder: 'default', recording: 'daily' });
  });

  it('still scans, and says the recording is unknown, when the recorder cannot be read', async () => {
    emulator.faults.set('config:DescribeConfigurationRecorderStatus', { unavailableNext: 10 });
    emulator.addInstance(eksctlNode({ cluster: 'prod' }));

    const { code, stdout } = await scan('--format', 'json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout).recorder).toMatchObject({ recording: 'unknown', reason: expect.stringMatching(/^ServiceUnavailable/) });
  });

  it('exits 0 when every node is compliant, and honours --cluster and rule parameters in JSON', async () => {
    emulator.addInstance(karpenterNode({ cluster: 'prod', hopLimit: 1 }));
    const staging = emulator.addInstance(karpenterNode({ cluster: 'staging', hopLimit: 1 }));

    const { code, stdout } = await scan('--cluster', 'staging', '--format', 'json', 'MinHopLimit=1');

    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.counts).toEqual({ COMPLIANT: 1, NON_COMPLIANT: 0, NOT_APPLICABLE: 1 });
    expect(report.parameters).toMatchObject({ MinHopLimit: '1', ClusterNames: 'staging' });
    expect(report.instances).toContainEqual(
      expect.objectContaining({ instanceId: staging, cluster: 'staging', nodeKind: 'karpenter', compliance: 'COMPLIANT' }),
    );
  });

  it('pages through large fleets', async () => {
    emulator.addInstances(Array.from({ length: 2100 }, () => eksctlNode({ cluster: 'big' })));
    const { code, stderr } = await scan();
    expect(code).toBe(0);
    expect(emulator.calls.get('ec2:DescribeInstances')).toBe(3);
    expect(stderr.trim().split('\n')).toEqual(['scan: 1000 instance(s) read', 'scan: 2000 instance(s) read', 'scan: 2100 instance(s) read', 'scan: 1 source(s) read']);
  });

  it('reports groups, templates and the account defaults next to the nodes, and exits 1 for a bad source', async () => {
    const local = await startEmulator();
    const saved = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = local.url;
    try {
      const fleet = seedSourcesFleet(local);
      const { code, stdout } = await scan('--format', 'json');
      expect(code).toBe(1);
      const report = JSON.parse(stdout);
      const reported = Object.fromEntries(report.sources.map((s: { resourceId: string; compliance: string }) => [s.resourceId, s.compliance]));
      for (const member of fleet.filter((m) => m.expected !== 'filtered')) expect(reported[member.resourceId], member.name).toBe(member.expected);
      expect(report.sourceCounts.NON_COMPLIANT).toBe(fleet.filter((m) => m.expected === 'NON_COMPLIANT').length);
      const table = await scan();
      expect(table.stdout).toMatch(/^group\s+eks-al2023-general-\S+\s+NON_COMPLIANT\s+cluster "prod": EKS node group "al2023-general"/m);
    } finally {
      process.env.AWS_ENDPOINT_URL = saved;
      await local.close();
    }
  });

  it.each([
    [['--format', 'xml'], '--format must be table or json, got "xml"'],
    [['MinHopLimit=0'], 'MinHopLimit must be an integer from 1 to 64, got "0"'],
    [['Colour=blue'], 'unknown parameter "Colour"'],
    [['hop-limit'], '"hop-limit" is not a rule parameter (write Param=Value, e.g. MinHopLimit=2)'],
    [['--cluster', 'a', 'ClusterNames=b'], 'give clusters either with --cluster or ClusterNames=, not both'],
    [['--bogus'], "Unknown option '--bogus'"],
  ])('exits 2 on bad arguments %j without calling AWS', async (argv, message) => {
    const { code, stderr } = await scan(...argv);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(emulator.requests.total()).toBe(0);
  });

  it('exits 2 with the error when EC2 keeps failing', async () => {
    emulator.faults.set('ec2:DescribeInstances', { serverErrorNext: 100 });
    const { code, stderr } = await scan();
    expect(code).toBe(2);
    expect(stderr).toMatch(/^scan: InternalError/m);
  });

  it('prints usage for --help', async () => {
    const { code, stdout } = await scan('--help');
    expect(code).toBe(0);
    expect(stdout).toContain('Exit status: 0 all compliant, 1 some non-compliant, 2 error.');
  });
});

describe('scan as a process', () => {
  it('says how to provide credentials when there are none, and exits 2', () => {
    const result = runWithoutCredentials('cli/scan.ts', ['--region', 'us-east-1'], emulator.url);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('scan: no AWS credentials found');
    expect(result.stderr).toContain('--profile');
    expect(result.stdout).toBe('');
  });
});
