import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import type { DebugLogger } from '../shared/clients.ts';
import type { ConfigRule, Verdict } from '../shared/config-rule/rule.ts';
import { parseRuleParameters, type RuleParameters } from '../shared/parameters.ts';
import { judgeAccountDefaults } from '../shared/sources/account-defaults.ts';
import { groupNode, judgeAutoScalingGroup, type AutoScalingGroupFacts } from '../shared/sources/auto-scaling-group.ts';
import { groupFromConfigurationItem, groupFromSdk, templateFromConfigurationItem, type GroupItemConfiguration, type TemplateItemConfiguration } from '../shared/sources/facts.ts';
import { judgeLaunchTemplate, templateNode, type LaunchTemplateFacts } from '../shared/sources/launch-template.ts';
import { SourceReader, type SourceClients } from '../shared/sources/source-reader.ts';
import { ACCOUNT, AUTO_SCALING_GROUP, LAUNCH_TEMPLATE } from '../shared/sources/source-judgement.ts';

export interface SourcesRuleDeps extends SourceClients {
  readonly logger: DebugLogger;
  /** The account the function runs in: the account defaults are reported against it. */
  readonly accountId: string;
}

/**
 * The IMDS rule for what launches EKS nodes: Auto Scaling groups that are node groups, launch
 * templates nodes launch from without a group (Karpenter's, or tagged as nodes), and the
 * account's IMDS defaults (once per sweep). Same parameters and parser as the instance rule.
 */
export function createSourcesRule(deps: SourcesRuleDeps): ConfigRule<RuleParameters> {
  // A reader per evaluation: it caches templates and versions, and nothing may outlive the invocation.
  const reader = () => new SourceReader(deps);
  const logged = (verdict: Verdict): Verdict => {
    deps.logger.debug('judged source', { ...verdict });
    return verdict;
  };

  const judgeGroup = async (group: AutoScalingGroupFacts, params: RuleParameters, read: SourceReader): Promise<Verdict> => {
    const launches = groupNode(group, params) === undefined ? [] : await read.groupLaunches(group);
    return logged(judgeAutoScalingGroup(group, launches, await read.accountDefaults(), params));
  };
  const judgeTemplate = async (template: LaunchTemplateFacts, params: RuleParameters, read: SourceReader): Promise<Verdict> =>
    logged(judgeLaunchTemplate(await read.templateInput(template), params));
  const gone = (resourceType: string, resourceId: string, what: string): Verdict => ({
    resourceType,
    resourceId,
    compliance: 'NOT_APPLICABLE',
    annotation: `${what} no longer exists`,
  });

  return {
    // The account is no Config resource type a rule can scope to, but a sweep reports it and cleans it up.
    resourceTypes: [AUTO_SCALING_GROUP, LAUNCH_TEMPLATE, ACCOUNT],
    parseParameters: parseRuleParameters,

    async evaluateChange(item, params) {
      const read = reader();
      if (item.resourceType === AUTO_SCALING_GROUP) {
        return judgeGroup(groupFromConfigurationItem(item.resourceId, item.configuration as GroupItemConfiguration | undefined, item.tags), params, read);
      }
      if (item.resourceType === LAUNCH_TEMPLATE) {
        // The item's LaunchTemplateData is one version's: the version a launch uses is read from EC2.
        return judgeTemplate(templateFromConfigurationItem(item.resourceId, item.configuration as TemplateItemConfiguration | undefined, item.tags), params, read);
      }
      return judgeAccount(params, read);
    },

    async evaluateOversized(item, params) {
      const read = reader();
      if (item.resourceType === AUTO_SCALING_GROUP) {
        const out = await deps.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [item.resourceId] }));
        const group = out.AutoScalingGroups?.[0];
        return group === undefined ? gone(AUTO_SCALING_GROUP, item.resourceId, 'group') : judgeGroup(groupFromSdk(group), params, read);
      }
      if (item.resourceType === LAUNCH_TEMPLATE) {
        const template = await read.template({ launchTemplateId: item.resourceId, launchTemplateName: undefined });
        return template === undefined ? gone(LAUNCH_TEMPLATE, item.resourceId, 'launch template') : judgeTemplate(template, params, read);
      }
      return judgeAccount(params, read);
    },

    async *sweep(params) {
      const read = reader();
      yield [await judgeAccount(params, read)];
      await read.preloadLaunchedVersions();
      // Templates first: the groups then find theirs already read.
      for await (const page of read.templatePages()) {
        const inputs = await Promise.all(page.map((template) => read.templateInput(template)));
        // Templates that launch no EKS node are none of this rule's business: not written at all.
        yield inputs.filter((input) => templateNode(input.template, input.version, params) !== undefined).map((input) => logged(judgeLaunchTemplate(input, params)));
      }
      for await (const page of read.groupPages()) {
        const nodeGroups = page.filter((group) => groupNode(group, params) !== undefined);
        yield await Promise.all(nodeGroups.map((group) => judgeGroup(group, params, read)));
      }
    },
  };

  async function judgeAccount(params: RuleParameters, read: SourceReader): Promise<Verdict> {
    return logged(judgeAccountDefaults(deps.accountId, await read.accountDefaults(), params));
  }
}
