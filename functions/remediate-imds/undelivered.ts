import type { RemediationReport, RenderedNotification } from './notification.ts';

export interface UndeliveredNotification {
  readonly report: RemediationReport;
  readonly rendered: RenderedNotification;
}

/**
 * Notifications whose Publish failed, by EventBridge event id, kept for Lambda's async retry
 * of the same event. Module scope in the handler, so it lives as long as one execution
 * environment: a retry that lands in another environment does not see it (see
 * docs/remediation.md, "Delivery guarantee"). Bounded, oldest dropped first.
 */
export class UndeliveredNotifications {
  private readonly entries = new Map<string, UndeliveredNotification>();
  private readonly capacity: number;

  constructor(capacity = 200) {
    this.capacity = capacity;
  }

  remember(eventId: string, notification: UndeliveredNotification): void {
    this.entries.delete(eventId);
    this.entries.set(eventId, notification);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  get(eventId: string): UndeliveredNotification | undefined {
    return this.entries.get(eventId);
  }

  forget(eventId: string): void {
    this.entries.delete(eventId);
  }

  get size(): number {
    return this.entries.size;
  }
}
