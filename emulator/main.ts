import { parseArgs } from 'node:util';
import { autoModeNode, eksctlNode, karpenterNode, managedNodeGroupNode, plainInstance, syntheticFleet } from './fleet.ts';
import { startEmulator } from './server.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4566' },
    fleet: { type: 'string', default: 'demo' },
    size: { type: 'string', default: '1000' },
    'apply-delay-ms': { type: 'string', default: '50' },
    topic: { type: 'string', default: 'eks-imds-guard' },
  },
});

const emulator = await startEmulator({ port: Number(values.port), applyDelayMs: Number(values['apply-delay-ms']) });
if (values.fleet === 'demo') {
  emulator.addInstances([
    managedNodeGroupNode({ cluster: 'demo', nodegroup: 'al2023' }),
    managedNodeGroupNode({ cluster: 'demo', nodegroup: 'al2023', hopLimit: 2 }),
    karpenterNode({ cluster: 'demo' }),
    eksctlNode({ cluster: 'demo', httpTokens: 'optional' }),
    autoModeNode({ cluster: 'demo' }),
    plainInstance(),
  ]);
} else if (values.fleet === 'synthetic') {
  emulator.addInstances(syntheticFleet(Number(values.size), { nonEks: Math.floor(Number(values.size) / 10) }));
}
const topicArn = emulator.createTopic(values.topic);
const token = emulator.resultTokenFor('eks-imds-guard');

console.log(`emulator listening on ${emulator.url} (${emulator.ec2.size} instances)`);
console.log(`  export AWS_ENDPOINT_URL=${emulator.url} AWS_REGION=${emulator.region} AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x`);
console.log(`  SNS topic: ${topicArn}`);
console.log(`  result token for rule eks-imds-guard: ${token}`);

const stop = (): void => {
  void emulator.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
