import type { NodeDetail } from './node-detail.ts';

export type InstanceStateName = 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';
export type Toggle = 'enabled' | 'disabled';

export const STATE_CODES: Readonly<Record<InstanceStateName, number>> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

/** Field names follow the Config item's `configuration` (camelCase) rather than the SDK's PascalCase. */
export interface MetadataOptions {
  state: 'pending' | 'applied';
  httpTokens: 'optional' | 'required';
  httpPutResponseHopLimit: number;
  httpEndpoint: Toggle;
  httpProtocolIpv6: Toggle;
  instanceMetadataTags: Toggle;
}

export interface IamInstanceProfile {
  arn: string;
  id: string;
}

/** EC2's `Operator`: set on managed instances such as EKS Auto Mode nodes. */
export interface InstanceOperator {
  managed: boolean;
  principal?: string;
  /** Hidden from DescribeInstances unless `IncludeManagedResources` is true. */
  hiddenByDefault?: boolean;
}

export interface Instance {
  instanceId: string;
  state: InstanceStateName;
  tags: Record<string, string>;
  metadataOptions: MetadataOptions;
  iamInstanceProfile?: IamInstanceProfile;
  instanceType: string;
  launchTime: Date;
  operator?: InstanceOperator;
  reservationId: string;
  imageId: string;
  availabilityZone: string;
  privateDnsName: string;
  /** Network interfaces, secondary IPs and volumes to describe; absent for a lean entry. */
  detail?: NodeDetail;
}

export interface InstanceSpec {
  instanceId?: string;
  state?: InstanceStateName;
  tags?: Record<string, string>;
  metadataOptions?: Partial<MetadataOptions>;
  iamInstanceProfile?: IamInstanceProfile;
  instanceType?: string;
  launchTime?: Date;
  operator?: InstanceOperator;
  /** Instances sharing a reservation id are returned in one `Reservations[]` entry. */
  reservationId?: string;
  imageId?: string;
  availabilityZone?: string;
  detail?: NodeDetail;
}

/** The account-level defaults an instance launched without explicit metadata options gets today. */
export const DEFAULT_METADATA_OPTIONS: Readonly<MetadataOptions> = {
  state: 'applied',
  httpTokens: 'required',
  httpPutResponseHopLimit: 2,
  httpEndpoint: 'enabled',
  httpProtocolIpv6: 'disabled',
  instanceMetadataTags: 'disabled',
};

const ID_MASK = (1n << 68n) - 1n;

/** 17 hex digits like real ids; multiplying by an odd constant modulo 2^68 keeps them unique. */
export function resourceId(prefix: string, seq: number): string {
  const mixed = (BigInt(seq) * 0x9e3779b97f4a7c15n + 0x5bd1e995n) & ID_MASK;
  return `${prefix}-${mixed.toString(16).padStart(17, '0').slice(-17)}`;
}

export const INSTANCE_ID_PATTERN = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

export function createInstance(spec: InstanceSpec, seq: number, region: string): Instance {
  const instanceId = spec.instanceId ?? resourceId('i', seq);
  const instance: Instance = {
    instanceId,
    state: spec.state ?? 'running',
    tags: { ...spec.tags },
    metadataOptions: { ...DEFAULT_METADATA_OPTIONS, ...spec.metadataOptions },
    instanceType: spec.instanceType ?? 'm6i.large',
    launchTime: spec.launchTime ?? new Date(Date.UTC(2025, 0, 1) + seq * 1000),
    reservationId: spec.reservationId ?? resourceId('r', seq),
    imageId: spec.imageId ?? 'ami-0abcdef1234567890',
    availabilityZone: spec.availabilityZone ?? `${region}${'abc'[seq % 3] ?? 'a'}`,
    privateDnsName: `ip-10-0-${(seq >> 8) & 255}-${seq & 255}.ec2.internal`,
  };
  if (spec.iamInstanceProfile !== undefined) instance.iamInstanceProfile = { ...spec.iamInstanceProfile };
  if (spec.operator !== undefined) instance.operator = { ...spec.operator };
  // Shared, never copied: one frozen object serves a whole fleet.
  if (spec.detail !== undefined) instance.detail = spec.detail;
  return instance;
}

export function copyInstance(instance: Instance): Instance {
  return structuredClone(instance);
}
