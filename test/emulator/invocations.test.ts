import { PutEvaluationsCommand } from '@aws-sdk/client-config-service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeInvocation, lambdaContext, managedNodeGroupNode, scheduledInvocation, startEmulator, type Emulator } from '../../emulator/index.ts';
import { clientsFor, destroy, type Clients } from './clients.ts';

let emulator: Emulator;
let clients: Clients;

beforeAll(async () => {
  emulator = await startEmulator();
  clients = clientsFor(emulator);
});

afterAll(async () => {
  destroy(clients);
  await emulator.close();
});

describe('Config rule invocations', () => {
  it('a scheduled invocation carries a result token PutEvaluations accepts for that rule', async () => {
    const at = new Date('2026-02-01T00:00:00Z');
    const event = scheduledInvocation(emulator, { ruleName: 'sched-rule', ruleParameters: { MinHopLimit: '2' }, at });
    expect(JSON.parse(event.invokingEvent)).toEqual({
      awsAccountId: '123456789012',
      notificationCreationTime: '2026-02-01T00:00:00.000Z',
      messageType: 'ScheduledNotification',
      recordVersion: '1.0',
    });
    expect(JSON.parse(event.ruleParameters ?? '')).toEqual({ MinHopLimit: '2' });
    await clients.config.send(
      new PutEvaluationsCommand({
        ResultToken: event.resultToken,
        Evaluations: [{ ComplianceResourceType: 'AWS::EC2::Instance', ComplianceResourceId: 'i-1', ComplianceType: 'COMPLIANT', OrderingTimestamp: at }],
      }),
    );
    expect(emulator.evaluations('sched-rule')[0]?.configRuleInvokedTime).toEqual(at);
  });

  it('a change invocation reflects the instance, and the oversized one omits configuration', () => {
    const id = emulator.addInstance(managedNodeGroupNode({ cluster: 'inv', hopLimit: 1 }));
    const item = JSON.parse(changeInvocation(emulator, { ruleName: 'change-rule', instanceId: id }).invokingEvent);
    expect(item.messageType).toBe('ConfigurationItemChangeNotification');
    expect(item.configurationItem).toMatchObject({
      resourceType: 'AWS::EC2::Instance',
      resourceId: id,
      configurationItemStatus: 'OK',
      tags: { 'eks:cluster-name': 'inv' },
      configuration: { instanceId: id, state: { code: 16, name: 'running' }, metadataOptions: { httpPutResponseHopLimit: 1, state: 'applied' } },
    });
    const oversized = JSON.parse(changeInvocation(emulator, { ruleName: 'change-rule', instanceId: id, oversized: true }).invokingEvent);
    expect(oversized.messageType).toBe('OversizedConfigurationItemChangeNotification');
    expect(oversized.configurationItemSummary.resourceId).toBe(id);
    expect(oversized).not.toHaveProperty('configurationItem');
  });

  it('a Lambda context counts down', () => {
    const context = lambdaContext(emulator, 'fn', 5_000);
    expect(context.invokedFunctionArn).toBe('arn:aws:lambda:us-east-1:123456789012:function:fn');
    expect(context.getRemainingTimeInMillis()).toBeLessThanOrEqual(5_000);
  });
});
