import { hash } from 'node:crypto';
import { paginateGetComplianceDetailsByConfigRule, type ConfigServiceClient } from '@aws-sdk/client-config-service';
import type { ComplianceType, Verdict } from './rule.ts';

export interface PreviousResultsOptions {
  readonly configRuleName: string;
  readonly resourceTypes: readonly string[];
  /** A COMPLIANT/NON_COMPLIANT result ordered before this, and not seen by the sweep, is stale. */
  readonly staleBefore: Date;
  readonly config: Pick<ConfigServiceClient, 'send'>;
  /** Verdicts held while the listing has not reached them; past this the sweep waits for the listing. */
  readonly maxHeld: number;
  readonly write: (verdict: Verdict) => Promise<void>;
}

/** Every compliance type a rule writes: NOT_APPLICABLE too, so that an unchanged one is not re-put. */
const LISTED_TYPES = ['COMPLIANT', 'NON_COMPLIANT', 'NOT_APPLICABLE'] as const;
const STALE_CANDIDATES: ReadonlySet<string> = new Set<ComplianceType>(['COMPLIANT', 'NON_COMPLIANT']);

interface Listed {
  readonly fingerprint: string;
  readonly staleCandidate: boolean;
}

/**
 * What AWS Config holds for the rule, matched against a sweep's verdicts as both stream in:
 * decides which verdicts to write (new or different) and which earlier results are stale.
 * Results are listed 100 a page (GetComplianceDetailsByConfigRule's limit), one chain per
 * compliance type, side by side.
 */
export class PreviousResults {
  /** Verdicts written because they differ from, or have no, earlier result... */
  written = 0;
  /** ...and those dropped because Config already holds the same compliance type and annotation. */
  unchanged = 0;
  private readonly listed = new Map<string, Listed>();
  private readonly held = new Map<string, Verdict>();
  /** Keys the sweep has offered: a result listed after its verdict was decided is not stale. */
  private readonly seen = new Set<string>();
  private listingEnded = false;
  private stopRequested = false;
  private listingSettled: Promise<unknown> = Promise.resolve();
  private readonly options: PreviousResultsOptions;

  constructor(options: PreviousResultsOptions) {
    this.options = options;
  }

  /** Lists the earlier results; resolves when every chain has ended. */
  list(): Promise<void> {
    const chains = LISTED_TYPES.map((complianceType) => this.listChain(complianceType));
    const listing = Promise.all(chains).then(() => {
      this.listingEnded = true;
    });
    // Held verdicts wait on this whether the listing succeeds or fails.
    this.listingSettled = listing.catch(() => {
      this.listingEnded = true;
    });
    return listing;
  }

  /** The sweep failed: the chains stop at their next page. */
  stop(): void {
    this.stopRequested = true;
  }

  /** A sweep verdict: written, dropped as unchanged, or held until the listing reaches it. */
  async offer(verdict: Verdict): Promise<void> {
    const key = keyOf(verdict.resourceType, verdict.resourceId);
    this.seen.add(key);
    const earlier = this.listed.get(key);
    if (earlier !== undefined) {
      this.listed.delete(key);
      return this.decide(verdict, earlier.fingerprint);
    }
    if (this.listingEnded) return this.decide(verdict, undefined);
    this.held.set(key, verdict);
    if (this.held.size >= this.options.maxHeld) await this.listingSettled;
  }

  /** Writes every verdict still held: the listing ended (or failed) without an earlier result for it. */
  async writeHeld(): Promise<void> {
    const held = [...this.held.values()];
    this.held.clear();
    for (const verdict of held) await this.decide(verdict, undefined);
  }

  /** Earlier COMPLIANT/NON_COMPLIANT results, older than the grace, whose resource the sweep never saw. */
  *stale(): Generator<{ resourceType: string; resourceId: string }> {
    for (const [key, entry] of this.listed) {
      if (!entry.staleCandidate) continue;
      const separator = key.indexOf(KEY_SEPARATOR);
      yield { resourceType: key.slice(0, separator), resourceId: key.slice(separator + 1) };
    }
  }

  private async decide(verdict: Verdict, earlierFingerprint: string | undefined): Promise<void> {
    if (earlierFingerprint !== undefined && earlierFingerprint === fingerprint(verdict.compliance, verdict.annotation)) {
      this.unchanged++;
      return;
    }
    this.written++;
    await this.options.write(verdict);
  }

  private async listChain(complianceType: (typeof LISTED_TYPES)[number]): Promise<void> {
    const { configRuleName, resourceTypes, staleBefore, config } = this.options;
    const pages = paginateGetComplianceDetailsByConfigRule(
      { client: config as ConfigServiceClient, pageSize: 100 },
      { ConfigRuleName: configRuleName, ComplianceTypes: [complianceType] },
    );
    for await (const page of pages) {
      if (this.stopRequested) return;
      for (const result of page.EvaluationResults ?? []) {
        const identifier = result.EvaluationResultIdentifier;
        const qualifier = identifier?.EvaluationResultQualifier;
        if (qualifier?.ResourceType === undefined || qualifier.ResourceId === undefined) continue;
        if (!resourceTypes.includes(qualifier.ResourceType)) continue;
        const key = keyOf(qualifier.ResourceType, qualifier.ResourceId);
        const earlier = fingerprint(result.ComplianceType ?? complianceType, result.Annotation ?? '');
        const held = this.held.get(key);
        if (held !== undefined) {
          this.held.delete(key);
          await this.decide(held, earlier);
          continue;
        }
        // Already decided (the same resource listed twice while its result changed type).
        if (this.seen.has(key)) continue;
        const ordering = identifier?.OrderingTimestamp;
        this.listed.set(key, {
          fingerprint: earlier,
          // A result written during the sweep, or within the grace before it, is never stale.
          staleCandidate: STALE_CANDIDATES.has(complianceType) && (ordering === undefined || ordering < staleBefore),
        });
      }
    }
  }
}

const KEY_SEPARATOR = '|';

function keyOf(resourceType: string, resourceId: string): string {
  return `${resourceType}${KEY_SEPARATOR}${resourceId}`;
}

/** 27 characters instead of the annotation's up to 256: the listing keeps one per earlier result. */
function fingerprint(compliance: string, annotation: string): string {
  return hash('sha1', `${compliance}\n${annotation}`, 'base64');
}
