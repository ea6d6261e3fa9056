import { AwsError } from './errors.ts';

/** Members of a query-protocol list: `Prefix.1`, `Prefix.2`, ... in index order. */
export function formList(form: URLSearchParams, prefix: string): string[] {
  return indexes(form, prefix).map((i) => form.get(`${prefix}.${i}`) ?? '');
}

/** The indexes n for which some `Prefix.n...` key exists, sorted numerically. */
export function indexes(form: URLSearchParams, prefix: string): number[] {
  const found = new Set<number>();
  const head = `${prefix}.`;
  for (const key of form.keys()) {
    if (!key.startsWith(head)) continue;
    const rest = key.slice(head.length);
    const dot = rest.indexOf('.');
    const n = Number(dot === -1 ? rest : rest.slice(0, dot));
    if (Number.isInteger(n) && n > 0) found.add(n);
  }
  return [...found].sort((a, b) => a - b);
}

export function formInteger(form: URLSearchParams, name: string): number | undefined {
  const raw = form.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n)) {
    throw new AwsError('InvalidParameterValue', `Invalid value '${raw}' for ${name}`);
  }
  return n;
}

export function formBoolean(form: URLSearchParams, name: string): boolean {
  return form.get(name) === 'true';
}
