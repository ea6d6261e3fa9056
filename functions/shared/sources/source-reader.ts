import {
  DescribeLaunchConfigurationsCommand,
  paginateDescribeAutoScalingGroups,
  type AutoScalingClient,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeImagesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  GetInstanceMetadataDefaultsCommand,
  paginateDescribeLaunchTemplates,
  paginateDescribeLaunchTemplateVersions,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import type { AutoScalingGroupFacts, GroupLaunch, LaunchTemplateRef } from './auto-scaling-group.ts';
import {
  accountDefaultsFromSdk,
  amiFromSdk,
  groupFromSdk,
  launchConfigurationFromSdk,
  templateFromSdk,
  versionFromSdk,
} from './facts.ts';
import type { AccountDefaults, AmiFacts } from './launch-metadata.ts';
import {
  resolveTemplateVersion,
  versionLaunchedWithoutGroup,
  type LaunchTemplateFacts,
  type LaunchTemplateInput,
  type LaunchTemplateVersionFacts,
} from './launch-template.ts';

export interface SourceClients {
  readonly ec2: Pick<EC2Client, 'send'>;
  readonly autoscaling: Pick<AutoScalingClient, 'send'>;
}

const NOT_FOUND = new Set([
  'InvalidLaunchTemplateId.NotFound',
  'InvalidLaunchTemplateName.NotFoundException',
  'InvalidLaunchTemplateId.Malformed',
  'InvalidLaunchTemplateId.VersionNotFound',
  'InvalidLaunchTemplateName.MalformedException',
  'InvalidAMIID.NotFound',
  'InvalidAMIID.Malformed',
]);

async function orUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (NOT_FOUND.has((error as Error).name)) return undefined;
    throw error;
  }
}

/**
 * Reads the sources through EC2 and Auto Scaling, each thing once per invocation: a sweep that
 * meets the same template in ten groups reads it once. One reader per invocation, so nothing
 * stale survives into the next.
 */
export class SourceReader {
  readonly #clients: SourceClients;
  readonly #memo = new Map<string, Promise<unknown>>();

  constructor(clients: SourceClients) {
    this.#clients = clients;
  }

  #once<T>(key: string, read: () => Promise<T>): Promise<T> {
    let pending = this.#memo.get(key) as Promise<T> | undefined;
    if (pending === undefined) {
      pending = read();
      this.#memo.set(key, pending);
    }
    return pending;
  }

  accountDefaults(): Promise<AccountDefaults> {
    return this.#once('account', async () => {
      const out = await this.#clients.ec2.send(new GetInstanceMetadataDefaultsCommand({}));
      return accountDefaultsFromSdk(out.AccountLevel);
    });
  }

  template(ref: Pick<LaunchTemplateRef, 'launchTemplateId' | 'launchTemplateName'>): Promise<LaunchTemplateFacts | undefined> {
    const key = ref.launchTemplateId ?? `name:${ref.launchTemplateName ?? ''}`;
    return this.#once(`lt:${key}`, async () => {
      const out = await orUndefined(
        this.#clients.ec2.send(
          new DescribeLaunchTemplatesCommand(
            ref.launchTemplateId ? { LaunchTemplateIds: [ref.launchTemplateId] } : { LaunchTemplateNames: [ref.launchTemplateName ?? ''] },
          ),
        ),
      );
      const found = out?.LaunchTemplates?.[0];
      return found && templateFromSdk(found);
    });
  }

  version(launchTemplateId: string, versionNumber: number): Promise<LaunchTemplateVersionFacts | undefined> {
    return this.#once(`ltv:${launchTemplateId}:${versionNumber}`, async () => {
      const out = await orUndefined(
        this.#clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: launchTemplateId, Versions: [String(versionNumber)] })),
      );
      const found = out?.LaunchTemplateVersions?.[0];
      return found && versionFromSdk(found);
    });
  }

  /** Only literal AMI ids: `resolve:ssm:` parameters are resolved at launch, unknown here. */
  ami(imageId: string | undefined): Promise<AmiFacts | undefined> {
    if (imageId === undefined || !imageId.startsWith('ami-')) return Promise.resolve(undefined);
    return this.#once(`ami:${imageId}`, async () => {
      const out = await orUndefined(this.#clients.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] })));
      const found = out?.Images?.[0];
      return found && amiFromSdk(found);
    });
  }

  /** Everything a group launches, each template resolved to the version it actually gets. */
  async groupLaunches(group: AutoScalingGroupFacts): Promise<GroupLaunch[]> {
    if (group.launchTemplates.length === 0 && group.launchConfigurationName !== undefined) {
      const name = group.launchConfigurationName;
      const out = await this.#clients.autoscaling.send(new DescribeLaunchConfigurationsCommand({ LaunchConfigurationNames: [name] }));
      const found = out.LaunchConfigurations?.[0];
      const configuration = found && launchConfigurationFromSdk(found);
      return [{ kind: 'launch-configuration', configuration, ami: await this.ami(configuration?.imageId) }];
    }
    return Promise.all(
      group.launchTemplates.map(async (ref): Promise<GroupLaunch> => {
        const template = await this.template(ref);
        const number = template && resolveTemplateVersion(template, ref.version);
        const version = template && number !== undefined ? await this.version(template.launchTemplateId, number) : undefined;
        return { kind: 'launch-template', ref, template, version, ami: await this.ami(version?.imageId) };
      }),
    );
  }

  /** A template as its launcher (Karpenter: `$Latest`, others: `$Default`) would launch it. */
  async templateInput(template: LaunchTemplateFacts): Promise<LaunchTemplateInput> {
    const number = resolveTemplateVersion(template, versionLaunchedWithoutGroup(template));
    const version = number === undefined ? undefined : await this.version(template.launchTemplateId, number);
    return { template, version, ami: await this.ami(version?.imageId), account: await this.accountDefaults() };
  }

  /** Every Auto Scaling group, a page at a time (the API has no tag-key wildcards: the judgement filters). */
  async *groupPages(): AsyncGenerator<AutoScalingGroupFacts[]> {
    for await (const page of paginateDescribeAutoScalingGroups({ client: this.#clients.autoscaling as AutoScalingClient, pageSize: 100 }, {})) {
      yield (page.AutoScalingGroups ?? []).map(groupFromSdk);
    }
  }

  /**
   * Reads ahead, in bulk, the versions launches use: DescribeLaunchTemplateVersions with
   * `$Default` or `$Latest` and no template describes that version of every template in the
   * region, so a sweep costs a few pages, not a call per template or group.
   */
  async preloadLaunchedVersions(): Promise<void> {
    await this.#preloadVersions('$Default');
    await this.#preloadVersions('$Latest');
  }

  /** Every launch template, a page at a time; remembered, so the groups read after them cost no call per template. */
  async *templatePages(): AsyncGenerator<LaunchTemplateFacts[]> {
    for await (const page of paginateDescribeLaunchTemplates({ client: this.#clients.ec2 as EC2Client, pageSize: 200 }, {})) {
      const templates = (page.LaunchTemplates ?? []).map(templateFromSdk);
      for (const template of templates) {
        this.#memo.set(`lt:${template.launchTemplateId}`, Promise.resolve(template));
        this.#memo.set(`lt:name:${template.launchTemplateName}`, Promise.resolve(template));
      }
      yield templates;
    }
  }

  async #preloadVersions(which: '$Default' | '$Latest'): Promise<void> {
    const pages = paginateDescribeLaunchTemplateVersions({ client: this.#clients.ec2 as EC2Client, pageSize: 200 }, { Versions: [which] });
    for await (const page of pages) {
      for (const version of page.LaunchTemplateVersions ?? []) {
        if (version.LaunchTemplateId === undefined || version.VersionNumber === undefined) continue;
        const key = `ltv:${version.LaunchTemplateId}:${version.VersionNumber}`;
        if (!this.#memo.has(key)) this.#memo.set(key, Promise.resolve(versionFromSdk(version)));
      }
    }
  }
}
