import { fixCommand, type Judgement } from './judge.ts';
import { CHECK_LABELS as LABELS } from './metadata-checks.ts';

/** AWS Config refuses annotations longer than this. */
export const MAX_ANNOTATION_LENGTH = 256;
// ASCII, so the limit holds whether Config counts characters or UTF-8 bytes of an ASCII text.
const CUT_MARKER = '...';

/**
 * One line for AWS Config: each failing check as actual vs expected, then the exact fix
 * command when it fits. Never longer than 256 characters; a cut text ends with "...".
 */
export function annotate(judgement: Judgement): string {
  const where = judgement.node?.cluster ? `cluster ${judgement.node.cluster}: ` : '';
  if (judgement.compliance === 'NOT_APPLICABLE') return fit(`${where}${judgement.detail}`);

  const pending = judgement.pending ? ' (metadata change pending)' : '';
  if (judgement.compliance === 'COMPLIANT') {
    const summary = judgement.checks.map((c) => `${LABELS[c.check]} ${c.actual}`).join(', ');
    return fit(`${where}compliant: ${summary}${pending}`);
  }

  const failing = judgement.checks.filter((c) => !c.passed);
  const failures = failing
    .map((c) =>
      c.check === 'instanceProfile'
        ? 'no instance profile (attach one)'
        : `${LABELS[c.check]} ${c.actual} (want ${c.expected})`,
    )
    .join('; ');
  const body = `${where}${failures}${pending}`;
  if (judgement.node.kind === 'auto-mode') return fit(`${body}. EKS Auto Mode node: owned by EKS, not modified`);

  const metadataFails = failing.some((c) => c.check !== 'instanceProfile');
  if (!metadataFails) return fit(body);
  const endpointFails = failing.some((c) => c.check === 'httpEndpoint');
  const withFix = `${body}. Fix: ${fixCommand(judgement.instanceId, judgement.target, endpointFails)}`;
  return withFix.length <= MAX_ANNOTATION_LENGTH ? withFix : fit(body);
}

/** Cuts a text to Config's limit, ending a cut text with an ASCII marker. */
export function fit(text: string): string {
  if (text.length <= MAX_ANNOTATION_LENGTH) return text;
  let cut = text.slice(0, MAX_ANNOTATION_LENGTH - CUT_MARKER.length);
  // Never leave half of a surrogate pair (a tag value may hold any Unicode character).
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return cut + CUT_MARKER;
}
