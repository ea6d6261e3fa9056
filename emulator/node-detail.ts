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

/**
 * The fields EC2 returns for every instance beyond the lean ones ec2.ts writes itself. Built as
 * one string per instance: every value is generated here from hex digits, digits and fixed
 * words, so nothing needs escaping, and a 100,000-node sweep's pages cost the emulator little.
 */
export function writeNodeDetail(xml: XmlWriter, instance: Instance, detail: NodeDetail, accountId: string): void {
  const seed = seedOf(instance.instanceId);
  const vpcId = `vpc-${hex(seed, 17, 1)}`;
  const subnetId = `subnet-${hex(seed % 6, 17, 2)}`;
  const groupSet =
    `<groupSet><item><groupId>sg-${hex(seed % 7, 17, 3)}</groupId><groupName>eks-cluster-sg-prod-1234567890</groupName></item>` +
    `<item><groupId>sg-${hex(seed % 5, 17, 4)}</groupId><groupName>eks-node-group-sg</groupName></item></groupSet>`;
  const attachTime = instance.launchTime.toISOString();
  const primaryIp = ipOf(instance.privateDnsName);
  const dnsOf = (ip: string) => `ip-${ip.replaceAll('.', '-')}.ec2.internal`;

  const parts: string[] = [
    `<reason></reason><amiLaunchIndex>0</amiLaunchIndex><productCodes></productCodes>` +
      `<monitoring><state>disabled</state></monitoring><subnetId>${subnetId}</subnetId><vpcId>${vpcId}</vpcId>` +
      `<privateIpAddress>${primaryIp}</privateIpAddress><sourceDestCheck>true</sourceDestCheck>${groupSet}` +
      `<architecture>x86_64</architecture><rootDeviceType>ebs</rootDeviceType><rootDeviceName>/dev/xvda</rootDeviceName><blockDeviceMapping>`,
  ];
  for (let v = 0; v < detail.volumes; v++) {
    const device = v === 0 ? '/dev/xvda' : `/dev/xvd${'bcdefghijklmnop'[v - 1] ?? 'z'}`;
    parts.push(
      `<item><deviceName>${device}</deviceName><ebs><volumeId>vol-${hex(seed + v, 17, 5)}</volumeId><status>attached</status>` +
        `<attachTime>${attachTime}</attachTime><deleteOnTermination>true</deleteOnTermination></ebs></item>`,
    );
  }
  parts.push(
    `</blockDeviceMapping><virtualizationType>hvm</virtualizationType>` +
      `<clientToken>fleet-${hex(seed, 8, 6)}-${hex(seed, 4, 7)}-${hex(seed, 4, 8)}-${hex(seed, 4, 9)}-${hex(seed, 12, 10)}</clientToken>` +
      `<hypervisor>nitro</hypervisor><networkInterfaceSet>`,
  );
  for (let n = 0; n < detail.networkInterfaces; n++) {
    const eniSeed = seed * 8 + n;
    const firstIp = n === 0 ? primaryIp : ipFrom(eniSeed, 0);
    // The VPC CNI names the interfaces it attaches itself.
    const description = n === 0 ? '' : `aws-K8S-${instance.instanceId}`;
    parts.push(
      `<item><networkInterfaceId>eni-${hex(eniSeed, 17, 11)}</networkInterfaceId><subnetId>${subnetId}</subnetId><vpcId>${vpcId}</vpcId>` +
        `<description>${description}</description><ownerId>${accountId}</ownerId><requesterManaged>false</requesterManaged>` +
        `<status>in-use</status><macAddress>${mac(eniSeed)}</macAddress><privateIpAddress>${firstIp}</privateIpAddress>` +
        `<privateDnsName>${dnsOf(firstIp)}</privateDnsName><sourceDestCheck>true</sourceDestCheck>${groupSet}` +
        `<attachment><attachmentId>eni-attach-${hex(eniSeed, 17, 12)}</attachmentId><deviceIndex>${n}</deviceIndex>` +
        `<networkCardIndex>0</networkCardIndex><status>attached</status><attachTime>${attachTime}</attachTime>` +
        `<deleteOnTermination>true</deleteOnTermination></attachment><privateIpAddressesSet>`,
    );
    for (let i = 0; i < detail.ipsPerInterface; i++) {
      const ip = i === 0 ? firstIp : ipFrom(eniSeed, i);
      parts.push(`<item><privateIpAddress>${ip}</privateIpAddress><privateDnsName>${dnsOf(ip)}</privateDnsName><primary>${i === 0}</primary></item>`);
    }
    parts.push(`</privateIpAddressesSet><ipv6AddressesSet></ipv6AddressesSet><interfaceType>interface</interfaceType></item>`);
  }
  parts.push(
    `</networkInterfaceSet><ebsOptimized>true</ebsOptimized><enaSupport>true</enaSupport>` +
      `<cpuOptions><coreCount>1</coreCount><threadsPerCore>2</threadsPerCore></cpuOptions>` +
      `<capacityReservationSpecification><capacityReservationPreference>open</capacityReservationPreference></capacityReservationSpecification>` +
      `<hibernationOptions><configured>false</configured></hibernationOptions><enclaveOptions><enabled>false</enabled></enclaveOptions>` +
      `<bootMode>uefi-preferred</bootMode><platformDetails>Linux/UNIX</platformDetails><usageOperation>RunInstances</usageOperation>` +
      `<usageOperationUpdateTime>${attachTime}</usageOperationUpdateTime>` +
      `<privateDnsNameOptions><hostnameType>ip-name</hostnameType><enableResourceNameDnsARecord>false</enableResourceNameDnsARecord>` +
      `<enableResourceNameDnsAAAARecord>false</enableResourceNameDnsAAAARecord></privateDnsNameOptions>` +
      `<maintenanceOptions><autoRecovery>default</autoRecovery></maintenanceOptions><currentInstanceBootMode>legacy-bios</currentInstanceBootMode>` +
      `<networkPerformanceOptions><bandwidthWeighting>default</bandwidthWeighting></networkPerformanceOptions>`,
  );
  xml.raw(parts.join(''));
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
