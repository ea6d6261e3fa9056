import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  ModifyInstanceMetadataOptionsCommand,
  paginateDescribeInstances,
  type Instance as SdkInstance,
} from '@aws-sdk/client-ec2';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  autoModeNode,
  EKS_NODE_DETAIL,
  eksctlNode,
  karpenterNode,
  managedNodeGroupNode,
  plainInstance,
  startEmulator,
  syntheticFleet,
  type Emulator,
} from '../../emulator/index.ts';
import { clientsFor, destroy, rejectionOf, type Clients } from './clients.ts';

let emulator: Emulator;
let clients: Clients;

beforeAll(async () => {
  emulator = await startEmulator({ applyDelayMs: 30 });
  clients = clientsFor(emulator, { maxAttempts: 1 });
});

afterAll(async () => {
  destroy(clients);
  await emulator.close();
});

beforeEach(() => {
  emulator.resetCalls();
  emulator.faults.clear();
});

function instancesOf(reservations: { Instances?: SdkInstance[] }[] | undefined): SdkInstance[] {
  return (reservations ?? []).flatMap((r) => r.Instances ?? []);
}

async function describeWith(filters: { Name: string; Values: string[] }[]): Promise<SdkInstance[]> {
  const out = await clients.ec2.send(new DescribeInstancesCommand({ Filters: filters }));
  return instancesOf(out.Reservations);
}

describe('DescribeInstances paging', () => {
  it('pages 2,500 matching instances in exactly 3 pages of at most 1,000', async () => {
    const local = await startEmulator();
    const localClients = clientsFor(local);
    try {
      const ids = local.addInstances(syntheticFleet(2_500));
      local.addInstances([plainInstance(), plainInstance()]);
      const pages: number[] = [];
      const seen: string[] = [];
      for await (const page of paginateDescribeInstances(
        { client: localClients.ec2, pageSize: 1000 },
        { Filters: [{ Name: 'tag-key', Values: ['kubernetes.io/cluster/*'] }] },
      )) {
        const instances = instancesOf(page.Reservations);
        pages.push(instances.length);
        seen.push(...instances.map((i) => i.InstanceId ?? ''));
      }
      expect(pages).toEqual([1000, 1000, 500]);
      expect(seen).toEqual(ids);
      expect(local.calls.get('ec2:DescribeInstances')).toBe(3);
    } finally {
      destroy(localClients);
      await local.close();
    }
  });

  it('rejects MaxResults outside 5..1000 and MaxResults combined with InstanceIds', async () => {
    const id = emulator.addInstance(plainInstance());
    for (const MaxResults of [4, 1001]) {
      const error = await rejectionOf(clients.ec2.send(new DescribeInstancesCommand({ MaxResults })));
      expect(error.name).toBe('InvalidParameterValue');
    }
    const error = await rejectionOf(clients.ec2.send(new DescribeInstancesCommand({ MaxResults: 5, InstanceIds: [id] })));
    expect(error.name).toBe('InvalidParameterCombination');
    expect(emulator.calls.get('ec2:DescribeInstances')).toBe(0);
    expect(emulator.errors.get('ec2:DescribeInstances')).toBe(3);
  });

  it('rejects an unknown NextToken', async () => {
    const error = await rejectionOf(clients.ec2.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: 'bm9wZTox' })));
    expect(error.name).toBe('InvalidPaginationToken');
  });
});

describe('DescribeInstances filters', () => {
  let mng: string;
  let karpenter: string;
  let eksctl: string;
  let auto: string;
  let plain: string;
  let stopped: string;

  beforeAll(() => {
    [mng, karpenter, eksctl, auto, plain, stopped] = emulator.addInstances([
      managedNodeGroupNode({ cluster: 'filters-a', nodegroup: 'al2023' }),
      karpenterNode({ cluster: 'filters-b', nodepool: 'gpu' }),
      eksctlNode({ cluster: 'filters-a', nodegroup: 'ng-7' }),
      autoModeNode({ cluster: 'filters-c' }),
      plainInstance({ tags: { team: 'filters' } }),
      managedNodeGroupNode({ cluster: 'filters-a', nodegroup: 'al2023', state: 'stopped' }),
    ]) as [string, string, string, string, string, string];
  });

  it('matches tag:<key> values exactly, and ORs several values', async () => {
    const found = await describeWith([{ Name: 'tag:eks:cluster-name', Values: ['filters-a', 'filters-x'] }]);
    expect(found.map((i) => i.InstanceId).sort()).toEqual([mng, stopped].sort());
  });

  it('supports * and ? wildcards in values', async () => {
    const star = await describeWith([{ Name: 'tag:kubernetes.io/cluster/filters-a', Values: ['own*'] }]);
    expect(star.map((i) => i.InstanceId).sort()).toEqual([mng, eksctl, stopped].sort());
    const question = await describeWith([{ Name: 'tag:alpha.eksctl.io/nodegroup-name', Values: ['ng-?'] }]);
    expect(question.map((i) => i.InstanceId)).toEqual([eksctl]);
    const none = await describeWith([{ Name: 'tag:alpha.eksctl.io/nodegroup-name', Values: ['ng-'] }]);
    expect(none).toEqual([]);
  });

  it('matches tag-key with wildcards and ANDs several filters', async () => {
    const found = await describeWith([
      { Name: 'tag-key', Values: ['karpenter.sh/*', 'eks:eks-cluster-name'] },
      { Name: 'tag-key', Values: ['kubernetes.io/cluster/filters-?'] },
    ]);
    expect(found.map((i) => i.InstanceId)).toEqual([karpenter]);
    const running = await describeWith([
      { Name: 'tag:eks:cluster-name', Values: ['filters-a'] },
      { Name: 'instance-state-name', Values: ['running', 'pending'] },
    ]);
    expect(running.map((i) => i.InstanceId)).toEqual([mng]);
  });

  it('filters by instance-id and rejects unknown filter names', async () => {
    expect((await describeWith([{ Name: 'instance-id', Values: [plain] }])).map((i) => i.InstanceId)).toEqual([plain]);
    const error = await rejectionOf(describeWith([{ Name: 'no-such-filter', Values: ['x'] }]));
    expect(error.name).toBe('InvalidParameterValue');
  });

  it('returns the fields the rule reads, in the SDK shape', async () => {
    const out = await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [mng, auto] }));
    const [node, autoNode] = instancesOf(out.Reservations);
    expect(node).toMatchObject({
      InstanceId: mng,
      State: { Code: 16, Name: 'running' },
      InstanceType: 'm6i.large',
      IamInstanceProfile: { Arn: expect.stringMatching(/^arn:aws:iam::123456789012:instance-profile\//), Id: expect.stringMatching(/^AIPA/) },
      MetadataOptions: {
        State: 'applied',
        HttpTokens: 'required',
        HttpPutResponseHopLimit: 1,
        HttpEndpoint: 'enabled',
        HttpProtocolIpv6: 'disabled',
        InstanceMetadataTags: 'disabled',
      },
      Operator: { Managed: false },
    });
    expect(node?.LaunchTime).toBeInstanceOf(Date);
    expect(node?.Tags).toContainEqual({ Key: 'eks:nodegroup-name', Value: 'al2023' });
    expect(node?.Tags).toContainEqual({ Key: 'aws:ec2launchtemplate:version', Value: '1' });
    expect(autoNode?.Operator).toEqual({ Managed: true, Principal: 'eks.amazonaws.com' });
    expect(autoNode?.Tags).toContainEqual({ Key: 'eks:kubernetes-node-pool-name', Value: 'general-purpose' });
  });

  it('answers InvalidInstanceID.NotFound for unknown ids and Malformed for bad ones', async () => {
    const notFound = await rejectionOf(clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [plain, 'i-0123456789abcdef0'] })));
    expect(notFound.name).toBe('InvalidInstanceID.NotFound');
    expect(notFound.message).toContain('i-0123456789abcdef0');
    const malformed = await rejectionOf(clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: ['web-1'] })));
    expect(malformed.name).toBe('InvalidInstanceID.Malformed');
  });

  it('hides managed instances marked hiddenByDefault unless IncludeManagedResources is set', async () => {
    const hidden = emulator.addInstance(autoModeNode({ cluster: 'filters-hidden', hiddenByDefault: true }));
    const filter = [{ Name: 'tag:eks:eks-cluster-name', Values: ['filters-hidden'] }];
    expect(await describeWith(filter)).toEqual([]);
    const out = await clients.ec2.send(new DescribeInstancesCommand({ Filters: filter, IncludeManagedResources: true }));
    expect(instancesOf(out.Reservations).map((i) => i.InstanceId)).toEqual([hidden]);
  });
});

describe('ModifyInstanceMetadataOptions', () => {
  it('answers pending, keeps fields not sent, and becomes applied after the delay', async () => {
    const id = emulator.addInstance(
      managedNodeGroupNode({ metadataOptions: { httpTokens: 'optional', httpPutResponseHopLimit: 1, instanceMetadataTags: 'enabled' } }),
    );
    const out = await clients.ec2.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId: id, HttpPutResponseHopLimit: 2 }));
    expect(out.InstanceId).toBe(id);
    expect(out.InstanceMetadataOptions).toEqual({
      State: 'pending',
      HttpTokens: 'optional',
      HttpPutResponseHopLimit: 2,
      HttpEndpoint: 'enabled',
      HttpProtocolIpv6: 'disabled',
      InstanceMetadataTags: 'enabled',
    });
    expect(emulator.getInstance(id)?.metadataOptions.state).toBe('pending');
    await sleep(80);
    expect(emulator.getInstance(id)?.metadataOptions).toEqual({
      state: 'applied',
      httpTokens: 'optional',
      httpPutResponseHopLimit: 2,
      httpEndpoint: 'enabled',
      httpProtocolIpv6: 'disabled',
      instanceMetadataTags: 'enabled',
    });
    expect(emulator.metadataChanges(id)).toEqual([{ instanceId: id, at: expect.any(Date), requested: { httpPutResponseHopLimit: 2 } }]);
  });

  it('answers DryRunOperation without changing anything', async () => {
    const id = emulator.addInstance(managedNodeGroupNode());
    const before = emulator.getInstance(id);
    const error = await rejectionOf(
      clients.ec2.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId: id, HttpTokens: 'required', HttpPutResponseHopLimit: 2, DryRun: true })),
    );
    expect(error.name).toBe('DryRunOperation');
    expect(error.$metadata?.httpStatusCode).toBe(412);
    expect(emulator.getInstance(id)).toEqual(before);
    expect(emulator.metadataChanges(id)).toEqual([]);
  });

  it('answers NotFound, IncorrectInstanceState, UnauthorizedOperation and range errors', async () => {
    const terminated = emulator.addInstance(managedNodeGroupNode({ state: 'terminated' }));
    const denied = emulator.addInstance(managedNodeGroupNode());
    emulator.unauthorizedInstanceIds.add(denied);
    const send = (input: ConstructorParameters<typeof ModifyInstanceMetadataOptionsCommand>[0]) =>
      rejectionOf(clients.ec2.send(new ModifyInstanceMetadataOptionsCommand(input)));

    expect((await send({ InstanceId: 'i-0fedcba9876543210', HttpTokens: 'required' })).name).toBe('InvalidInstanceID.NotFound');
    expect((await send({ InstanceId: terminated, HttpTokens: 'required' })).name).toBe('IncorrectInstanceState');
    const unauthorized = await send({ InstanceId: denied, HttpTokens: 'required', DryRun: true });
    expect(unauthorized.name).toBe('UnauthorizedOperation');
    expect(unauthorized.$metadata?.httpStatusCode).toBe(403);
    expect((await send({ InstanceId: denied, HttpPutResponseHopLimit: 65 })).name).toBe('InvalidParameterValue');
    expect((await send({ InstanceId: terminated, HttpPutResponseHopLimit: 0 })).name).toBe('InvalidParameterValue');
    expect(emulator.calls.get('ec2:ModifyInstanceMetadataOptions')).toBe(0);
    expect(emulator.errors.get('ec2:ModifyInstanceMetadataOptions')).toBe(5);
  });
});

describe('CreateTags', () => {
  it('adds and overwrites instance tags, visible to DescribeInstances', async () => {
    const id = emulator.addInstance(managedNodeGroupNode({ cluster: 'tags' }));
    await clients.ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'imds-guard:remediation', Value: 'a' }] }));
    await clients.ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'imds-guard:remediation', Value: 'b' }] }));
    const described = await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    const tags = instancesOf(described.Reservations)[0]?.Tags ?? [];
    expect(tags).toContainEqual({ Key: 'imds-guard:remediation', Value: 'b' });
    expect(tags).toContainEqual({ Key: 'eks:cluster-name', Value: 'tags' });
    expect(emulator.calls.get('ec2:CreateTags')).toBe(2);
  });

  it.each([
    [{ Resources: ['i-00000000000000bad'], Tags: [{ Key: 'k', Value: 'v' }] }, 'InvalidInstanceID.NotFound'],
    [{ Resources: ['RESOURCE'], Tags: [{ Key: 'aws:reserved', Value: 'v' }] }, 'InvalidParameterValue'],
    [{ Resources: ['RESOURCE'], Tags: [{ Key: 'k', Value: 'v'.repeat(257) }] }, 'InvalidParameterValue'],
    [{ Resources: ['RESOURCE'], Tags: [{ Key: 'k', Value: 'v' }], DryRun: true }, 'DryRunOperation'],
  ])('refuses %j with %s', async (input, name) => {
    const id = emulator.addInstance(managedNodeGroupNode());
    const resources = input.Resources.map((r) => (r === 'RESOURCE' ? id : r));
    const error = await clients.ec2.send(new CreateTagsCommand({ ...input, Resources: resources })).catch((e: unknown) => e);
    expect(error).toMatchObject({ name });
    expect(emulator.getInstance(id)?.tags.k).toBeUndefined();
  });
});

describe('state-change events (EventBridge "EC2 Instance State-change Notification")', () => {
  it('a launch emits pending then running, shaped as EC2 sends them, and the instance is running', () => {
    emulator.drainStateChangeEvents();
    const id = emulator.launchInstance(managedNodeGroupNode({ cluster: 'prod', nodegroup: 'general' }));
    const events = emulator.drainStateChangeEvents();
    expect(events.map((e) => e.detail)).toEqual([
      { 'instance-id': id, state: 'pending' },
      { 'instance-id': id, state: 'running' },
    ]);
    const [, running] = events;
    expect(running).toMatchObject({
      version: '0',
      source: 'aws.ec2',
      'detail-type': 'EC2 Instance State-change Notification',
      account: emulator.accountId,
      region: emulator.region,
      resources: [`arn:aws:ec2:${emulator.region}:${emulator.accountId}:instance/${id}`],
    });
    expect(running?.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(new Set(events.map((e) => e.id)).size).toBe(2);
    expect(emulator.getInstance(id)?.state).toBe('running');
  });

  it('pushes each event to listeners as it happens; running comes after bootMs', async () => {
    const seen: string[] = [];
    const stop = emulator.onStateChange((event) => seen.push(event.detail.state));
    const id = emulator.launchInstance(plainInstance(), { bootMs: 40 });
    expect(seen).toEqual(['pending']);
    expect(emulator.getInstance(id)?.state).toBe('pending');
    await sleep(80);
    expect(seen).toEqual(['pending', 'running']);
    stop();
    emulator.setInstanceState(id, 'stopping');
    expect(seen).toEqual(['pending', 'running']);
    expect(emulator.drainStateChangeEvents().map((e) => e.detail.state)).toEqual(['pending', 'running', 'stopping']);
  });

  it('emits nothing when the state does not change', () => {
    const id = emulator.addInstance(plainInstance());
    emulator.drainStateChangeEvents();
    emulator.setInstanceState(id, 'running');
    expect(emulator.stateChangeEvents()).toEqual([]);
  });
});

describe('realistic node entries', () => {
  it('describes a VPC CNI node as EC2 does: interfaces full of secondary IPs, volumes, groups, about 10 KB of XML', async () => {
    const id = emulator.addInstance(karpenterNode({ cluster: 'big', detail: EKS_NODE_DETAIL }));
    const lean = emulator.addInstance(karpenterNode({ cluster: 'big' }));

    const { Reservations } = await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id, lean] }));
    const [node, leanNode] = [id, lean].map((i) => instancesOf(Reservations).find((x) => x.InstanceId === i));

    expect(node?.NetworkInterfaces).toHaveLength(3);
    for (const [n, eni] of (node?.NetworkInterfaces ?? []).entries()) {
      expect(eni.Attachment?.DeviceIndex).toBe(n);
      expect(eni.PrivateIpAddresses).toHaveLength(10);
      expect(eni.PrivateIpAddresses?.filter((ip) => ip.Primary)).toHaveLength(1);
      expect(eni.NetworkInterfaceId).toMatch(/^eni-[0-9a-f]{17}$/);
    }
    // The primary interface's primary address is the instance's own.
    expect(node?.NetworkInterfaces?.[0]?.PrivateIpAddress).toBe(node?.PrivateIpAddress);
    expect(`ip-${node?.PrivateIpAddress?.replace(/\./g, '-')}.ec2.internal`).toBe(node?.PrivateDnsName);
    expect(node?.BlockDeviceMappings?.map((b) => b.DeviceName)).toEqual(['/dev/xvda', '/dev/xvdb']);
    expect(node?.SecurityGroups).toHaveLength(2);
    // Everything the judgement reads is the same as for a lean entry.
    expect(node?.MetadataOptions).toEqual(leanNode?.MetadataOptions);
    expect(leanNode?.NetworkInterfaces).toBeUndefined();

    const describe = emulator.ec2.operations['DescribeInstances']!;
    const bytes = (instanceId: string) => Buffer.byteLength(describe(new URLSearchParams({ 'InstanceId.1': instanceId }), 'r'));
    expect(bytes(id) - bytes(lean)).toBeGreaterThan(9_000);
    for (const instanceId of [id, lean]) emulator.removeInstance(instanceId);
  });
});
