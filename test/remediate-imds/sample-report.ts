import { GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { PublishCommand } from '@aws-sdk/client-sns';
import type { RemediationReport } from '../../functions/remediate-imds/notification.ts';
import { remediateEvent } from '../../functions/remediate-imds/remediator.ts';
import { aComplianceChangeEvent, aConfig, anEksNode, fakeEc2 } from './builders.ts';
import { aHarness, cloudwatchMock, ec2Mock, resetMocks, snsMock, START } from './harness.ts';

/** A report as the remediator builds it, for rendering tests. */
export function sampleReport(): RemediationReport {
  return {
    outcome: 'remediated',
    reason: 'applied',
    headline: 'changed HttpPutResponseHopLimit 1 -> 2 (verified)',
    mode: 'enforce',
    path: 'config',
    eventId: 'c0bb891c-77fe-8518-14fc-be78b966f95b',
    configRuleName: 'eks-imds-guard',
    accountId: '111122223333',
    region: 'us-east-1',
    instanceId: 'i-0123456789abcdef0',
    cluster: 'prod',
    nodeKind: 'managed-node-group',
    nodeGroup: 'general',
    exemption: undefined,
    before: { httpTokens: 'required', hopLimit: 1, httpEndpoint: 'enabled' },
    after: { httpTokens: 'required', hopLimit: 2, httpEndpoint: 'enabled' },
    changes: [{ field: 'HttpPutResponseHopLimit', from: '1', to: '2' }],
    verification: {
      status: 'verified',
      detail: 'State applied with the values sent after 0.8 s',
      waitedMs: 750,
      observed: { state: 'applied', httpTokens: 'required', hopLimit: 2, httpEndpoint: 'enabled' },
    },
    imdsv1Guard: { enabled: true, lookbackHours: 24, imdsv1Calls: undefined, tokensHeldBack: false },
    actionsRequired: [],
    drift: undefined,
    error: undefined,
    generatedAt: new Date(START).toISOString(),
  };
}

/**
 * The notification for the commonest case, produced by the real code path: an AL2023 managed
 * node group node (tokens optional, hop limit 1), no IMDSv1 use, enforce mode. The sample in
 * docs/remediation.md is this output; `node test/remediate-imds/sample-report.ts` prints it.
 */
export async function renderSampleNotification(): Promise<{ subject: string; message: string; attributes: Record<string, string> }> {
  resetMocks();
  fakeEc2(ec2Mock, anEksNode({ httpTokens: 'optional', hopLimit: 1 }), { readsUntilApplied: 3 });
  cloudwatchMock.on(GetMetricStatisticsCommand).resolves({ Label: 'MetadataNoToken', Datapoints: [{ Sum: 0, Timestamp: new Date(START) }] });
  await remediateEvent(aComplianceChangeEvent(), aHarness({ config: aConfig({ REMEDIATION_MODE: 'enforce' }) }).deps);
  const input = snsMock.commandCalls(PublishCommand)[0]?.args[0].input;
  if (input === undefined) throw new Error('the sample scenario published nothing');
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.MessageAttributes ?? {})) attributes[name] = value.StringValue ?? '';
  return { subject: input.Subject ?? '', message: input.Message ?? '', attributes };
}

if (import.meta.main) {
  const { subject, message, attributes } = await renderSampleNotification();
  process.stdout.write(`Subject: ${subject}\n\nMessageAttributes: ${JSON.stringify(attributes)}\n\n${message}`);
}
