import type { IamInstanceProfile, InstanceSpec, InstanceStateName, MetadataOptions } from './instance.ts';
import type { NodeDetail } from './node-detail.ts';

/** What every builder accepts; the builder's own defaults describe the kind of node. */
export interface NodeOptions {
  instanceId?: string;
  state?: InstanceStateName;
  hopLimit?: number;
  httpTokens?: MetadataOptions['httpTokens'];
  /** Overrides hopLimit/httpTokens and sets the rest of the options. */
  metadataOptions?: Partial<MetadataOptions>;
  /** `false` launches without an instance profile. */
  profile?: IamInstanceProfile | false;
  instanceType?: string;
  launchTime?: Date;
  /** Merged over the builder's tags; a value of `undefined` removes a tag. */
  tags?: Record<string, string | undefined>;
  accountId?: string;
  /** Network interfaces, secondary IPs and volumes, as a real node lists them (e.g. EKS_NODE_DETAIL). */
  detail?: NodeDetail;
}

export interface ClusterNodeOptions extends NodeOptions {
  cluster?: string;
}

const DEFAULT_ACCOUNT = '123456789012';
let serial = 0;

/**
 * EKS managed node group node. AL2023 node groups default to hop limit 1, which is what breaks
 * pods that use the node's credentials, so that is the default here.
 */
export function managedNodeGroupNode(options: ClusterNodeOptions & { nodegroup?: string } = {}): InstanceSpec {
  const cluster = options.cluster ?? 'demo';
  const nodegroup = options.nodegroup ?? 'ng-default';
  const n = ++serial;
  return node(options, { httpTokens: 'required', hopLimit: 1 }, `eks-${nodegroup}-${hex(n, 8)}`, {
    'eks:cluster-name': cluster,
    'eks:nodegroup-name': nodegroup,
    [`kubernetes.io/cluster/${cluster}`]: 'owned',
    'k8s.io/cluster-autoscaler/enabled': 'true',
    [`k8s.io/cluster-autoscaler/${cluster}`]: 'owned',
    'aws:ec2launchtemplate:id': `lt-${hex(hash(`${cluster}/${nodegroup}`), 17)}`,
    'aws:ec2launchtemplate:version': '1',
    'aws:autoscaling:groupName': `eks-${nodegroup}-${uuidish(hash(`${cluster}/${nodegroup}`))}`,
  });
}

/** Karpenter v1 node. `EC2NodeClass` defaults to IMDSv2 required with hop limit 1. */
export function karpenterNode(options: ClusterNodeOptions & { nodepool?: string; nodeclass?: string } = {}): InstanceSpec {
  const cluster = options.cluster ?? 'demo';
  const nodepool = options.nodepool ?? 'default';
  const n = ++serial;
  return node(options, { httpTokens: 'required', hopLimit: 1 }, `KarpenterNodeInstanceProfile-${cluster}`, {
    'karpenter.sh/nodepool': nodepool,
    'karpenter.sh/nodeclaim': `${nodepool}-${base36(n, 5)}`,
    'karpenter.k8s.aws/ec2nodeclass': options.nodeclass ?? 'default',
    'eks:eks-cluster-name': cluster,
    [`kubernetes.io/cluster/${cluster}`]: 'owned',
    'aws:ec2launchtemplate:id': `lt-${hex(hash(`${cluster}/${nodepool}/karpenter`), 17)}`,
    'aws:ec2launchtemplate:version': '1',
    'aws:ec2:fleet-id': `fleet-${uuidish(n)}`,
  });
}

/** Self-managed node group created by eksctl, which enforces IMDSv2 with hop limit 2. */
export function eksctlNode(options: ClusterNodeOptions & { nodegroup?: string } = {}): InstanceSpec {
  const cluster = options.cluster ?? 'demo';
  const nodegroup = options.nodegroup ?? 'ng-1';
  return node(options, { httpTokens: 'required', hopLimit: 2 }, `eksctl-${cluster}-nodegroup-${nodegroup}-NodeInstanceProfile`, {
    'alpha.eksctl.io/cluster-name': cluster,
    'alpha.eksctl.io/nodegroup-name': nodegroup,
    'alpha.eksctl.io/nodegroup-type': 'unmanaged',
    'eksctl.cluster.k8s.io/v1alpha1/cluster-name': cluster,
    [`kubernetes.io/cluster/${cluster}`]: 'owned',
    'aws:cloudformation:stack-name': `eksctl-${cluster}-nodegroup-${nodegroup}`,
    'aws:autoscaling:groupName': `eksctl-${cluster}-nodegroup-${nodegroup}-NodeGroup-${base36(hash(nodegroup), 12).toUpperCase()}`,
  });
}

/**
 * EKS Auto Mode node: an EC2 managed instance owned by EKS, IMDSv2 with hop limit 1. The rule
 * should report on it and the remediation must leave it alone.
 */
export function autoModeNode(options: ClusterNodeOptions & { nodePool?: string; hiddenByDefault?: boolean } = {}): InstanceSpec {
  const cluster = options.cluster ?? 'demo';
  const spec = node(options, { httpTokens: 'required', hopLimit: 1 }, `eks-auto-${cluster}-node`, {
    'eks:eks-cluster-name': cluster,
    'eks:kubernetes-node-pool-name': options.nodePool ?? 'general-purpose',
    'eks:kubernetes-node-class-name': 'default',
  });
  spec.operator = { managed: true, principal: 'eks.amazonaws.com' };
  if (options.hiddenByDefault !== undefined) spec.operator.hiddenByDefault = options.hiddenByDefault;
  return spec;
}

/** Not an EKS node. Old-style IMDS defaults so a rule that wrongly judges it shows up. */
export function plainInstance(options: NodeOptions = {}): InstanceSpec {
  const n = ++serial;
  return node(options, { httpTokens: 'optional', hopLimit: 1 }, 'web-server', { Name: `web-${n}` });
}

export interface SyntheticFleetOptions {
  /** How many of the n instances are not EKS nodes (spread evenly). */
  nonEks?: number;
  clusters?: number;
  /** Every k-th EKS node gets hop limit 1 and optional tokens; 0 makes every node compliant. */
  nonCompliantEvery?: number;
  /** Every k-th EKS node is an Auto Mode node; 0 (default) for none. */
  autoModeEvery?: number;
  /** Every instance's network interfaces, secondary IPs and volumes; lean entries when absent. */
  detail?: NodeDetail;
}

/**
 * n instances in total, cheap enough for 50,000: EKS kinds rotate (managed, Karpenter, eksctl),
 * compliant nodes have IMDSv2 required with hop limit 2.
 */
export function syntheticFleet(n: number, options: SyntheticFleetOptions = {}): InstanceSpec[] {
  const nonEks = Math.min(options.nonEks ?? 0, n);
  const clusters = Math.max(1, options.clusters ?? 3);
  const badEvery = options.nonCompliantEvery ?? 3;
  const autoEvery = options.autoModeEvery ?? 0;
  const detail = options.detail === undefined ? {} : { detail: options.detail };
  const specs: InstanceSpec[] = new Array<InstanceSpec>(n);
  let eks = 0;
  for (let i = 0; i < n; i++) {
    // Bresenham-style spread so non-EKS instances land on every page, not in one block.
    const isPlain = Math.floor(((i + 1) * nonEks) / n) > Math.floor((i * nonEks) / n);
    if (isPlain) {
      specs[i] = plainInstance(detail);
      continue;
    }
    eks++;
    const cluster = `cluster-${eks % clusters}`;
    const bad = badEvery > 0 && eks % badEvery === 0;
    const imds = bad ? { hopLimit: 1, httpTokens: 'optional' as const } : { hopLimit: 2, httpTokens: 'required' as const };
    if (autoEvery > 0 && eks % autoEvery === 0) {
      specs[i] = autoModeNode({ cluster, ...detail });
      continue;
    }
    switch (eks % 3) {
      case 0:
        specs[i] = managedNodeGroupNode({ cluster, nodegroup: `ng-${eks % 4}`, ...imds, ...detail });
        break;
      case 1:
        specs[i] = karpenterNode({ cluster, ...imds, ...detail });
        break;
      default:
        specs[i] = eksctlNode({ cluster, nodegroup: `ng-${eks % 2}`, ...imds, ...detail });
    }
  }
  return specs;
}

function node(
  options: NodeOptions,
  defaults: { httpTokens: MetadataOptions['httpTokens']; hopLimit: number },
  profileName: string,
  tags: Record<string, string>,
): InstanceSpec {
  const merged: Record<string, string> = { ...tags };
  for (const [key, value] of Object.entries(options.tags ?? {})) {
    if (value === undefined) delete merged[key];
    else merged[key] = value;
  }
  const spec: InstanceSpec = {
    tags: merged,
    metadataOptions: {
      httpTokens: options.httpTokens ?? defaults.httpTokens,
      httpPutResponseHopLimit: options.hopLimit ?? defaults.hopLimit,
      ...options.metadataOptions,
    },
  };
  if (options.profile !== false) {
    spec.iamInstanceProfile = options.profile ?? {
      arn: `arn:aws:iam::${options.accountId ?? DEFAULT_ACCOUNT}:instance-profile/${profileName}`,
      id: `AIPA${base36(hash(profileName), 17).toUpperCase()}`,
    };
  }
  if (options.instanceId !== undefined) spec.instanceId = options.instanceId;
  if (options.state !== undefined) spec.state = options.state;
  if (options.instanceType !== undefined) spec.instanceType = options.instanceType;
  if (options.launchTime !== undefined) spec.launchTime = options.launchTime;
  if (options.detail !== undefined) spec.detail = options.detail;
  return spec;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

function hex(n: number, width: number): string {
  let out = '';
  let x = n >>> 0;
  while (out.length < width) {
    x = Math.imul(x ^ (x >>> 15), 2246822519) >>> 0;
    out += x.toString(16).padStart(8, '0');
  }
  return out.slice(0, width);
}

function base36(n: number, width: number): string {
  let out = '';
  let x = n >>> 0;
  while (out.length < width) {
    x = Math.imul(x ^ (x >>> 13), 3266489917) >>> 0;
    out += x.toString(36);
  }
  return out.slice(0, width);
}

function uuidish(n: number): string {
  const h = hex(n, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
