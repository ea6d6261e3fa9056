import { describeExemption } from './exemption.ts';
import { fixCommand, type Judgement } from './judge.ts';
import { CHECK_LABELS as LABELS } from './metadata-checks.ts';
import { capText, quoteValue, utf8Length } from './sanitize.ts';

/** AWS Config refuses annotations longer than this. */
export const MAX_ANNOTATION_LENGTH = 256;
/** Config's documentation counts characters; the same cap in UTF-8 bytes holds whichever it means. */
export const MAX_ANNOTATION_BYTES = 256;
/** A cluster name is up to 100 characters; a tag claiming to be one may be anything. */
const CLUSTER_IN_ANNOTATION = 100;

/**
 * One line for AWS Config. The failing checks come first (actual vs expected), so a cut never
 * hides them, then the exemption (active, or ignored and why), the cluster (quoted: it is a tag
 * value), then the exact fix command when it fits. Never more than 256 characters nor 256 UTF-8 bytes; a cut text ends with "...".
 */
export function annotate(judgement: Judgement): string {
  const cluster = judgement.node?.cluster === undefined ? undefined : `cluster ${quoteValue(judgement.node.cluster, CLUSTER_IN_ANNOTATION)}`;
  if (judgement.compliance === 'NOT_APPLICABLE') {
    // The cluster-not-selected detail names the cluster itself.
    const where = cluster !== undefined && judgement.reason !== 'cluster-not-selected' ? `; ${cluster}` : '';
    return fit(`${judgement.detail}${where}`);
  }

  const pending = judgement.pending ? ' (metadata change pending)' : '';
  const where = cluster === undefined ? '' : `; ${cluster}`;
  const exemption = describeExemption(judgement.exemption);
  if (judgement.compliance === 'COMPLIANT') {
    const summary = judgement.checks.map((c) => `${LABELS[c.check]} ${c.actual}`).join(', ');
    return fit(`compliant: ${summary}${pending}${exemption ? `; ${exemption}` : ''}${where}`);
  }

  const failing = judgement.checks.filter((c) => !c.passed);
  const failures = failing
    .map((c) =>
      c.check === 'instanceProfile'
        ? 'no instance profile (attach one)'
        : `${LABELS[c.check]} ${c.actual} (want ${c.expected})`,
    )
    .join('; ');
  // An exemption never hides a failure: it is said right after the failing checks.
  const exempt = judgement.exemption.status === 'active' ? `; ${exemption}: not remediated` : exemption ? `; ${exemption}` : '';
  const body = `${failures}${pending}${exempt}${where}`;
  if (judgement.node.kind === 'auto-mode') return fit(`${body}. EKS Auto Mode node: owned by EKS, not modified`);

  const metadataFails = failing.some((c) => c.check !== 'instanceProfile');
  if (!metadataFails) return fit(body);
  const endpointFails = failing.some((c) => c.check === 'httpEndpoint');
  const withFix = `${body}. Fix: ${fixCommand(judgement.instanceId, judgement.target, endpointFails)}`;
  return fits(withFix) ? withFix : fit(body);
}

export function fits(text: string): boolean {
  return text.length <= MAX_ANNOTATION_LENGTH && utf8Length(text) <= MAX_ANNOTATION_BYTES;
}

/** Cuts a text to Config's limits (characters and UTF-8 bytes), ending a cut text with "...". */
export function fit(text: string): string {
  return capText(text, { maxLength: MAX_ANNOTATION_LENGTH, maxBytes: MAX_ANNOTATION_BYTES });
}
