import type { Instance } from './instance.ts';
import type { XmlWriter } from './xml.ts';

/**
 * What makes a real EKS node's DescribeInstances entry heavy: the VPC CNI attaches several
 * network interfaces and fills each with secondary private IPs for pods (an m5.large: 3
 * interfaces of 10 addresses), and nodes carry a root and a data volume. The emulator keeps
 * only these counts per instance and writes the rest (ids, addresses, MACs, times) from the
 * instance's own id, so 100,000 realistic nodes cost the emulator no more memory than lean ones.
 */
export interface NodeDetail {
  readonly networkInterfaces: number;
  /** Private IPs per interface, the primary one included. */
  readonly ipsPerInterface: number;
  readonly volumes: number;
}

/** An m5.large node under the VPC CNI's default warm pool: about 10 KB of XML. */
export const EKS_NODE_DETAIL: NodeDetail = { networkInterfaces: 3, ipsPerInterface: 10, volumes: 2 };

/** The fields EC2 returns for every instance beyond the lean ones ec2.ts writes itself. */
export function writeNodeDetail(xml: XmlWriter, instance: Instance, detail: NodeDetail, accountId: string): void {
  const seed = seedOf(instance.instanceId);
  const vpcId = `vpc-${hex(seed, 17, 1)}`;
  const subnetId = `subnet-${hex(seed % 6, 17, 2)}`;
  const clusterSg = { id: `sg-${hex(seed % 7, 17, 3)}`, name: 'eks-cluster-sg-prod-1234567890' };
  const nodeSg = { id: `sg-${hex(seed % 5, 17, 4)}`, name: 'eks-node-group-sg' };
  const groups = [clusterSg, nodeSg];
  const attachTime = instance.launchTime;
  const primaryIp = ipOf(instance.privateDnsName);
  const dnsOf = (ip: string) => `ip-${ip.replace(/\./g, '-')}.ec2.internal`;

  xml
    .leaf('reason', '')
    .leaf('amiLaunchIndex', 0)
    .open('productCodes')
    .close('productCodes')
    .open('monitoring')
    .leaf('state', 'disabled')
    .close('monitoring')
    .leaf('subnetId', subnetId)
    .leaf('vpcId', vpcId)
    .leaf('privateIpAddress', primaryIp)
    .leaf('sourceDestCheck', true)
    .open('groupSet');
  for (const group of groups) xml.open('item').leaf('groupId', group.id).leaf('groupName', group.name).close('item');
  xml
    .close('groupSet')
    .leaf('architecture', 'x86_64')
    .leaf('rootDeviceType', 'ebs')
    .leaf('rootDeviceName', '/dev/xvda')
    .open('blockDeviceMapping');
  for (let v = 0; v < detail.volumes; v++) {
    xml
      .open('item')
      .leaf('deviceName', v === 0 ? '/dev/xvda' : `/dev/xvd${'bcdefghijklmnop'[v - 1] ?? 'z'}`)
      .open('ebs')
      .leaf('volumeId', `vol-${hex(seed + v, 17, 5)}`)
      .leaf('status', 'attached')
      .leaf('attachTime', attachTime)
      .leaf('deleteOnTermination', true)
      .close('ebs')
      .close('item');
  }
  xml
    .close('blockDeviceMapping')
    .leaf('virtualizationType', 'hvm')
    .leaf('clientToken', `fleet-${hex(seed, 8, 6)}-${hex(seed, 4, 7)}-${hex(seed, 4, 8)}-${hex(seed, 4, 9)}-${hex(seed, 12, 10)}`)
    .leaf('hypervisor', 'nitro')
    .open('networkInterfaceSet');
  for (let n = 0; n < detail.networkInterfaces; n++) {
    const eniSeed = seed * 8 + n;
    const firstIp = n === 0 ? primaryIp : ipFrom(eniSeed, 0);
    xml
      .open('item')
      .leaf('networkInterfaceId', `eni-${hex(eniSeed, 17, 11)}`)
      .leaf('subnetId', subnetId)
      .leaf('vpcId', vpcId)
      // The VPC CNI names the interfaces it attaches itself.
      .leaf('description', n === 0 ? '' : `aws-K8S-${instance.instanceId}`)
      .leaf('ownerId', accountId)
      .leaf('requesterManaged', false)
      .leaf('status', 'in-use')
      .leaf('macAddress', mac(eniSeed))
      .leaf('privateIpAddress', firstIp)
      .leaf('privateDnsName', dnsOf(firstIp))
      .leaf('sourceDestCheck', true)
      .open('groupSet');
    for (const group of groups) xml.open('item').leaf('groupId', group.id).leaf('groupName', group.name).close('item');
    xml
      .close('groupSet')
      .open('attachment')
      .leaf('attachmentId', `eni-attach-${hex(eniSeed, 17, 12)}`)
      .leaf('deviceIndex', n)
      .leaf('networkCardIndex', 0)
      .leaf('status', 'attached')
      .leaf('attachTime', attachTime)
      .leaf('deleteOnTermination', true)
      .close('attachment')
      .open('privateIpAddressesSet');
    for (let i = 0; i < detail.ipsPerInterface; i++) {
      const ip = i === 0 ? firstIp : ipFrom(eniSeed, i);
      xml.open('item').leaf('privateIpAddress', ip).leaf('privateDnsName', dnsOf(ip)).leaf('primary', i === 0).close('item');
    }
    xml
      .close('privateIpAddressesSet')
      .open('ipv6AddressesSet')
      .close('ipv6AddressesSet')
      .leaf('interfaceType', 'interface')
      .close('item');
  }
  xml
    .close('networkInterfaceSet')
    .leaf('ebsOptimized', true)
    .leaf('enaSupport', true)
    .open('cpuOptions')
    .leaf('coreCount', 1)
    .leaf('threadsPerCore', 2)
    .close('cpuOptions')
    .open('capacityReservationSpecification')
    .leaf('capacityReservationPreference', 'open')
    .close('capacityReservationSpecification')
    .open('hibernationOptions')
    .leaf('configured', false)
    .close('hibernationOptions')
    .open('enclaveOptions')
    .leaf('enabled', false)
    .close('enclaveOptions')
    .leaf('bootMode', 'uefi-preferred')
    .leaf('platformDetails', 'Linux/UNIX')
    .leaf('usageOperation', 'RunInstances')
    .leaf('usageOperationUpdateTime', attachTime)
    .open('privateDnsNameOptions')
    .leaf('hostnameType', 'ip-name')
    .leaf('enableResourceNameDnsARecord', false)
    .leaf('enableResourceNameDnsAAAARecord', false)
    .close('privateDnsNameOptions')
    .open('maintenanceOptions')
    .leaf('autoRecovery', 'default')
    .close('maintenanceOptions')
    .leaf('currentInstanceBootMode', 'legacy-bios')
    .open('networkPerformanceOptions')
    .leaf('bandwidthWeighting', 'default')
    .close('networkPerformanceOptions');
}

function seedOf(instanceId: string): number {
  return Number.parseInt(instanceId.slice(-8), 16) >>> 0;
}

function hex(n: number, width: number, salt: number): string {
  let out = '';
  let x = (n ^ Math.imul(salt, 0x9e3779b1)) >>> 0;
  while (out.length < width) {
    x = Math.imul(x ^ (x >>> 15), 2246822519) >>> 0;
    x = Math.imul(x ^ (x >>> 13), 3266489917) >>> 0;
    out += x.toString(16).padStart(8, '0');
  }
  return out.slice(0, width);
}

function ipOf(privateDnsName: string): string {
  const match = /^ip-(\d+)-(\d+)-(\d+)-(\d+)\./.exec(privateDnsName);
  return match === null ? '10.0.0.10' : `${match[1]}.${match[2]}.${match[3]}.${match[4]}`;
}

function ipFrom(seed: number, index: number): string {
  const x = Math.imul((seed * 64 + index) >>> 0, 2654435761) >>> 0;
  return `10.${16 + ((x >>> 24) & 15)}.${(x >>> 8) & 255}.${x & 255}`;
}

function mac(seed: number): string {
  const h = hex(seed, 10, 13);
  return `02:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:${h.slice(6, 8)}:${h.slice(8, 10)}`;
}
