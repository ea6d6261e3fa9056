import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runReport } from '../../cli/report.ts';
import { runWithoutCredentials } from './without-credentials.ts';
import { renderNotification, type RemediationReport } from '../../functions/remediate-imds/notification.ts';
import { startEmulator, type Emulator, type SeededEvaluation } from '../../emulator/index.ts';

const RULE = 'eks-imds-guard';
const SOURCES_RULE = `${RULE}-sources`;
const NOW = new Date('2026-12-03T08:00:00Z');
const dir = mkdtempSync(join(tmpdir(), 'report-test-'));
const savedEndpoint = process.env.AWS_ENDPOINT_URL;
let emulator: Emulator;

const failing = (cluster: string, id: string): SeededEvaluation => ({
  resourceType: 'AWS::EC2::Instance',
  resourceId: id,
  complianceType: 'NON_COMPLIANT',
  annotation: `cluster ${cluster}: HttpTokens optional (want required); HopLimit 1 (want >=2). Fix: aws ec2 modify-instance-metadata-options --instance-id ${id} --http-tokens required --http-put-response-hop-limit 2`,
});
const passing = (cluster: string, id: string): SeededEvaluation => ({
  resourceType: 'AWS::EC2::Instance',
  resourceId: id,
  complianceType: 'COMPLIANT',
  annotation: `cluster ${cluster}: compliant: HttpTokens required, HopLimit 2, HttpEndpoint enabled, InstanceProfile attached`,
});

async function report(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runReport(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) }, { now: () => NOW });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  emulator = await startEmulator({ accountId: '111122223333', region: 'us-east-1' });
  Object.assign(process.env, emulator.clientEnv());
});

afterAll(async () => {
  if (savedEndpoint === undefined) delete process.env.AWS_ENDPOINT_URL;
  else process.env.AWS_ENDPOINT_URL = savedEndpoint;
  await emulator.close();
});

beforeEach(() => {
  emulator.deniedOperations.clear();
});

describe('npm run report -- --aggregator', () => {
  // 515 accounts in 2 regions, plus the emulator's own: more account/region pairs than one
  // DescribeAggregateComplianceByConfigRules page holds (1,000).
  const ACCOUNTS = Array.from({ length: 515 }, (_, i) => String(300000000000 + i));
  const REGIONS = ['us-east-1', 'eu-west-1'];

  beforeAll(() => {
    emulator.createAggregator('org');
    for (const [a, accountId] of ACCOUNTS.entries()) {
      for (const region of REGIONS) {
        const id = `i-${accountId.slice(-4)}${region === 'us-east-1' ? 'a' : 'b'}`;
        emulator.seedAccountEvaluations({ accountId, region }, RULE, [a % 103 === 0 ? failing('payments', id) : passing('web', id)]);
      }
    }
    // One big account: 230 results, three detail pages of 100.
    emulator.seedAccountEvaluations(
      { accountId: '999999999999', region: 'eu-west-1' },
      RULE,
      Array.from({ length: 230 }, (_, i) => (i < 30 ? failing('prod', `i-big${i}`) : passing('prod', `i-big${i}`))),
    );
    // Sources behind the big account's nodes, judged by the sources rule.
    emulator.seedAccountEvaluations({ accountId: '999999999999', region: 'eu-west-1' }, SOURCES_RULE, [
      { resourceType: 'AWS::EC2::LaunchTemplate', resourceId: 'lt-0a1b2c3d4e5f67890', complianceType: 'NON_COMPLIANT', annotation: 'cluster prod: launch template lt-0a1b2c3d4e5f67890 version 3: hop limit 1 (want >=2). Fix: create version 4 with --http-put-response-hop-limit 2' },
      { resourceType: 'AWS::AutoScaling::AutoScalingGroup', resourceId: 'eks-general-1234', complianceType: 'COMPLIANT', annotation: 'compliant' },
    ]);
    // An exempt node, a hostile tag value in an annotation, in the emulator's own account.
    emulator.config.seedEvaluation(RULE, { resourceType: 'AWS::EC2::Instance', resourceId: 'i-exempt1', complianceType: 'NON_COMPLIANT', annotation: 'cluster prod: HopLimit 1 (want >=2); exempt until 2026-12-10 (SEC-1)' });
    emulator.config.seedEvaluation(RULE, { resourceType: 'AWS::EC2::Instance', resourceId: 'i-exempt2', complianceType: 'NOT_APPLICABLE', annotation: 'cluster prod: exempt until 2026-11-01' });
    emulator.config.seedEvaluation(RULE, { resourceType: 'AWS::EC2::Instance', resourceId: 'i-evil', complianceType: 'NON_COMPLIANT', annotation: 'cluster evil: HopLimit 1 (want >=2) <img src=x onerror=alert(1)><script>alert(2)</script>' });
  });

  // Over a thousand account/region pairs take seconds to read: one run, checked for both outputs.
  const orgHtml = join(dir, 'nested', 'org.html');
  let run: Awaited<ReturnType<typeof report>>;
  // About 1,100 calls: seconds alone, much longer on a loaded machine.
  beforeAll(async () => {
    emulator.resetCalls();
    run = await report('--aggregator', 'org', '--format', 'json', '--html', orgHtml);
  }, 180_000);

  it('reads every account and region, paging both aggregate calls, and exits 1 on findings', () => {
    const { code, stdout, stderr } = run;

    expect(code).toBe(1);
    const json = JSON.parse(stdout);
    const pairs = ACCOUNTS.length * REGIONS.length + 2;
    expect(json.accountRegions).toBe(pairs);
    const failingSmall = ACCOUNTS.filter((_, a) => a % 103 === 0).length * REGIONS.length;
    expect(json.counts.nodes).toEqual({ NON_COMPLIANT: failingSmall + 30 + 2, COMPLIANT: pairs - 2 - failingSmall + 200, NOT_APPLICABLE: 1 });
    expect(json.counts.sources).toEqual({ NON_COMPLIANT: 1, COMPLIANT: 1, NOT_APPLICABLE: 0 });
    // Two pages of rule entries for the node rule, one for the sources rule; one detail page per
    // pair, two more for the big account.
    expect(emulator.calls.get('config:DescribeAggregateComplianceByConfigRules')).toBe(3);
    expect(emulator.calls.get('config:GetAggregateComplianceDetailsByConfigRule')).toBe(pairs + 1 + 2);
    expect(json.nonCompliantByAccountCluster[0]).toEqual({ accountId: '999999999999', region: 'eu-west-1', cluster: 'prod', nodes: 30 });
    expect(json.failingChecks).toEqual([
      { check: 'HttpTokens', nodes: failingSmall + 30 },
      { check: 'HopLimit', nodes: failingSmall + 32 },
    ]);
    expect(json.sourcesToFix[0]).toMatchObject({ source: 'launch template lt-0a1b2c3d4e5f67890', sourceRuleCompliance: 'NON_COMPLIANT', fix: expect.stringContaining('create version 4') });
    expect(json.exemptions).toEqual([
      expect.objectContaining({ resourceId: 'i-exempt2', until: '2026-11-01', status: 'expired' }),
      expect.objectContaining({ resourceId: 'i-exempt1', until: '2026-12-10', status: 'expires soon', compliance: 'NON_COMPLIANT' }),
    ]);
    expect(stderr).toContain(`report: rule ${RULE}: results in ${pairs} account/region pair(s)`);
    expect(stderr).toContain(`report: ${pairs + 1}/${pairs + 1} account/region pair(s) read`);
  });

  it('writes one self-contained HTML file with every tag-derived text escaped', () => {
    expect(run.stderr).toContain(`report: HTML report written to ${orgHtml}`);
    const html = readFileSync(orgHtml, 'utf8');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;');
    expect(html).not.toMatch(/<script|<img|<link|<iframe|<object|@import|url\(/i);
    expect(html).not.toMatch(/<[a-z][^>]*\s(src|href)=/i);
    for (const id of ['chart-accounts', 'chart-checks', 'chart-sources']) expect(html).toContain(`<svg id="${id}"`);
    expect(html).toContain('<g class="bar" data-label="999999999999 eu-west-1 · prod" data-value="30">');
    expect(html).toContain('Not included: pass <code>--notifications FILE</code>');
  });

  it('says when the aggregator does not exist, and exits 2', async () => {
    const { code, stderr, stdout } = await report('--aggregator', 'missing');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('no AWS Config aggregator named "missing"');
    expect(stderr).toContain('CreateAggregator=true');
  });

  it('names the action and the account it was denied for', async () => {
    emulator.deniedOperations.add('config:GetAggregateComplianceDetailsByConfigRule');
    const { code, stderr } = await report('--aggregator', 'org');
    expect(code).toBe(2);
    expect(stderr).toMatch(/report: not allowed to call config:GetAggregateComplianceDetailsByConfigRule for account \d{12} \((us-east-1|eu-west-1)\) through aggregator org/);
    expect(stderr).toContain('The report needs config:DescribeAggregateComplianceByConfigRules and config:GetAggregateComplianceDetailsByConfigRule');
  });
});

describe('npm run report -- --account', () => {
  let local: Emulator;
  beforeAll(async () => {
    local = await startEmulator({ accountId: '444455556666', region: 'eu-central-1' });
  });
  afterAll(async () => {
    Object.assign(process.env, emulator.clientEnv());
    await local.close();
  });
  beforeEach(() => {
    Object.assign(process.env, local.clientEnv());
    local.resetCalls();
  });

  it('reads the account of the credentials, exits 0 when all is compliant, and says the sources rule has no results', async () => {
    local.config.seedEvaluation(RULE, passing('prod', 'i-ok'));
    local.config.seedEvaluation(RULE, { resourceType: 'AWS::EC2::Instance', resourceId: 'i-gone', complianceType: 'NOT_APPLICABLE', annotation: 'not seen by the latest sweep: gone or no longer an EKS node' });

    const { code, stdout } = await report('--account');

    expect(code).toBe(0);
    expect(stdout).toContain(`eks-imds-guard report: account 444455556666 (eu-central-1), 1 account/region pair(s); rules ${RULE}, ${SOURCES_RULE} (no results)`);
    expect(stdout).toContain('Nodes: 0 non-compliant, 1 compliant, 1 not applicable');
    expect(local.calls.entries().sort()).toEqual([
      ['config:DescribeConfigRules', 1],
      ['config:GetComplianceDetailsByConfigRule', 1],
    ]);
  });

  it('adds remediation outcomes from collected notifications and traces nodes to their source', async () => {
    local.config.seedEvaluation(RULE, failing('prod', 'i-0123456789abcdef0'));
    const notification = renderNotification(aReport());
    const file = join(dir, 'notifications.jsonl');
    writeFileSync(
      file,
      [
        JSON.stringify({ Type: 'Notification', TopicArn: 'arn:aws:sns:eu-central-1:444455556666:t', Subject: notification.subject, Message: notification.message }),
        'not json',
        JSON.stringify({ Type: 'Notification', Message: 'a message from something else' }),
        JSON.stringify({ ...aReport(), outcome: 'failed', instanceId: 'i-0fedcba9876543210', actionsRequired: [], headline: 'UnauthorizedOperation on ModifyInstanceMetadataOptions' }),
        // A sources repair's report (a launch template EKS owns): counted, and it needs a person.
        JSON.stringify({
          outcome: 'skipped',
          headline: 'nothing this function may change: action required',
          resourceType: 'AWS::EC2::LaunchTemplate',
          resourceId: 'lt-0b1c2d3e4f5a67890',
          accountId: '444455556666',
          region: 'eu-central-1',
          actionsRequired: ['create a new version of your template, then aws eks update-nodegroup-version --cluster-name prod --nodegroup-name general'],
        }),
      ].join('\n'),
    );

    const { code, stdout, stderr } = await report('--account', '--format', 'json', '--notifications', file);

    expect(code).toBe(1);
    const json = JSON.parse(stdout);
    expect(json.outcomes).toMatchObject({
      input: file,
      notifications: 3,
      unreadableLines: 2,
      byOutcome: [
        { outcome: 'failed', count: 1 },
        { outcome: 'partially-remediated', count: 1 },
        { outcome: 'skipped', count: 1 },
      ],
    });
    expect(json.outcomes.needsPerson.map((n: { resourceId: string }) => n.resourceId).sort()).toEqual(['i-0123456789abcdef0', 'i-0fedcba9876543210', 'lt-0b1c2d3e4f5a67890']);
    expect(json.outcomes.needsPerson.find((n: { resourceId: string }) => n.resourceId.startsWith('lt-'))).toMatchObject({ resourceType: 'AWS::EC2::LaunchTemplate', outcome: 'skipped' });
    expect(json.sourcesToFix).toEqual([
      expect.objectContaining({ source: 'launch template lt-0a1b2c3d4e5f67890', via: ['node group general'], nonCompliantNodes: 1, cluster: 'prod' }),
    ]);
    expect(stderr).toContain(`report: ${file}:2 skipped: not JSON`);
    expect(stderr).toContain(`report: ${file}:3 skipped: message has no "--- details (JSON) ---" block`);
  });

  it('writes CSV with one line per result, quoting and defusing formulas', async () => {
    local.config.seedEvaluation(RULE, { resourceType: 'AWS::EC2::Instance', resourceId: 'i-csv', complianceType: 'NON_COMPLIANT', annotation: '=HYPERLINK("http://x","click"), cluster csv' });
    const { code, stdout } = await report('--account', '--format', 'csv');
    expect(code).toBe(1);
    const lines = stdout.trimEnd().split('\r\n');
    expect(lines[0]).toBe('account_id,region,rule,resource_type,resource_id,cluster,compliance,failing_checks,exempt_until,annotation,recorded_at');
    expect(lines).toHaveLength(1 + local.evaluations(RULE).length);
    expect(lines.find((l) => l.includes('i-csv'))).toMatch(/^444455556666,eu-central-1,eks-imds-guard,AWS::EC2::Instance,i-csv,csv,NON_COMPLIANT,other,,"'=HYPERLINK\(""http:\/\/x"",""click""\), cluster csv",\d{4}-/);
  });

  it('says when the rule does not exist in the account', async () => {
    const { code, stderr } = await report('--account', '--rule', 'other-rule');
    expect(code).toBe(2);
    expect(stderr).toContain('no AWS Config rule named "other-rule" in the account and region of these credentials (NoSuchConfigRuleException)');
  });
});

describe('npm run report arguments', () => {
  beforeEach(() => emulator.resetCalls());

  it.each([
    [[], 'give exactly one of --aggregator NAME'],
    [['--aggregator', 'org', '--account'], 'give exactly one of --aggregator NAME'],
    [['--account', '--format', 'xml'], '--format must be table or json or csv, got "xml"'],
    [['--aggregator', 'bad name'], '--aggregator must be 1-256 letters'],
    [['--account', 'extra'], 'unexpected argument "extra"'],
    [['--account', '--bogus'], "Unknown option '--bogus'"],
  ])('exit 2 on %j without calling AWS', async (argv, message) => {
    const { code, stderr } = await report(...argv);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(emulator.requests.total()).toBe(0);
  });

  it('exits 2 when the notifications file cannot be read', async () => {
    const { code, stderr } = await report('--account', '--notifications', join(dir, 'missing.jsonl'));
    expect(code).toBe(2);
    expect(stderr).toContain('cannot read --notifications');
    expect(emulator.requests.total()).toBe(0);
  });

  it('prints usage for --help', async () => {
    const { code, stdout } = await report('--help');
    expect(code).toBe(0);
    expect(stdout).toContain('Exit status: 0 all compliant, 1 some non-compliant, 2 error.');
  });
});

function aReport(): RemediationReport {
  return {
    outcome: 'partially-remediated',
    reason: 'imdsv1-in-use',
    headline: 'changed HttpPutResponseHopLimit 1 -> 2; HttpTokens left optional',
    mode: 'enforce',
    path: 'config',
    eventId: 'c0bb891c-77fe-8518-14fc-be78b966f95b',
    configRuleName: RULE,
    accountId: '444455556666',
    region: 'eu-central-1',
    instanceId: 'i-0123456789abcdef0',
    cluster: 'prod',
    nodeKind: 'managed-node-group',
    nodeGroup: 'general',
    before: { httpTokens: 'optional', hopLimit: 1, httpEndpoint: 'enabled' },
    after: { httpTokens: 'optional', hopLimit: 2, httpEndpoint: 'enabled' },
    changes: [{ field: 'HttpPutResponseHopLimit', from: '1', to: '2' }],
    verification: undefined,
    imdsv1Guard: { enabled: true, lookbackHours: 24, imdsv1Calls: 42, tokensHeldBack: true },
    actionsRequired: ['42 IMDSv1 calls in the last 24 h - migrate those clients to IMDSv2, then enforce HttpTokens=required.'],
    drift: {
      launchTemplateId: 'lt-0a1b2c3d4e5f67890',
      launchTemplateVersion: '3',
      nodeGroup: 'general',
      nodePool: undefined,
      nodeClass: undefined,
      fix: 'create a new version of launch template lt-0a1b2c3d4e5f67890 version 3 with the metadata options and update managed node group general of cluster prod to it',
    },
    error: undefined,
    exemption: undefined,
    generatedAt: '2026-12-03T07:00:00.000Z',
  };
}

describe('report as a process', () => {
  it('says how to provide credentials when there are none, and exits 2', () => {
    const result = runWithoutCredentials('cli/report.ts', ['--account', '--region', 'us-east-1'], emulator.url);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('report: no AWS credentials found');
    expect(result.stdout).toBe('');
  });
});
