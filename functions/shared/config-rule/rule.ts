import type { ChangedItem, ItemSummary } from './config-event.ts';

export type ComplianceType = 'COMPLIANT' | 'NON_COMPLIANT' | 'NOT_APPLICABLE';

/** What a rule says about one resource: exactly what goes into one AWS Config evaluation. */
export interface Verdict {
  readonly resourceType: string;
  readonly resourceId: string;
  readonly compliance: ComplianceType;
  /** At most 256 characters (PutEvaluations' limit); the rule's own annotation builder caps it. */
  readonly annotation: string;
}

/**
 * A Config rule as the shared protocol sees it (after rdklib's `ConfigRule`): it judges, and
 * never sees a result token, a batch, a page of earlier results or a retry. The protocol
 * (`evaluateRuleEvent`) owns parsing, applicability, delivery and cleanup. A rule closes over
 * its own SDK clients.
 */
export interface ConfigRule<P> {
  /** The resource types the rule judges: others are NOT_APPLICABLE, and only these are cleaned up. */
  readonly resourceTypes: readonly string[];
  /** Throws InvalidParametersError listing every problem. */
  parseParameters(raw: unknown): P;
  /** A change notification for an applicable item (type in scope, status OK/ResourceDiscovered). */
  evaluateChange(item: ChangedItem, params: P): Promise<Verdict> | Verdict;
  /** An oversized notification: the item carries no configuration, so the rule reads the resource. */
  evaluateOversized(item: ItemSummary, params: P): Promise<Verdict>;
  /** A scheduled sweep: every resource in the rule's scope, a page of verdicts at a time. */
  sweep(params: P, notificationTime: Date): AsyncIterable<readonly Verdict[]>;
}
