// IAM's evaluation of a statement's Condition block, for the operators the templates use, so tests
// can ask whether a given request would be allowed. Documented semantics: every operator must hold;
// within one operator every key must hold, and a key holds when the request value matches any of
// the policy values; "...IfExists" holds when the key is absent; Null tests absence.

/** Request context: condition key -> value (absent keys are undefined). */
export type RequestContext = Readonly<Record<string, string | undefined>>;

type ConditionBlock = Readonly<Record<string, Readonly<Record<string, string | number | boolean | readonly (string | number | boolean)[]>>>>;

/** IAM's ArnLike / StringLike: "*" any run of characters, "?" one character, case-sensitive. */
export function arnLike(pattern: string, arn: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(arn);
}

const MATCHERS: Record<string, (actual: string, expected: string) => boolean> = {
  StringEquals: (a, e) => a === e,
  StringNotEquals: (a, e) => a !== e,
  StringLike: (a, e) => arnLike(e, a),
  ArnEquals: (a, e) => arnLike(e, a),
  ArnLike: (a, e) => arnLike(e, a),
  NumericEquals: (a, e) => Number(a) === Number(e),
  NumericGreaterThanEquals: (a, e) => Number(a) >= Number(e),
  NumericLessThanEquals: (a, e) => Number(a) <= Number(e),
};

/** Whether the Condition block holds for the request. Unknown operators fail loudly. */
export function conditionHolds(condition: ConditionBlock | undefined, context: RequestContext): boolean {
  if (condition === undefined) return true;
  return Object.entries(condition).every(([operator, keys]) =>
    Object.entries(keys).every(([key, expected]) => {
      const values = [expected].flat().map(String);
      const actual = context[key];
      if (operator === 'Null') return values.every((v) => (v === 'true') === (actual === undefined));
      // A multi-valued key is modelled with one value; ForAllValues holds for an empty set.
      const forAll = operator.startsWith('ForAllValues:');
      const unqualified = forAll ? operator.slice('ForAllValues:'.length) : operator;
      const ifExists = forAll || unqualified.endsWith('IfExists');
      const base = unqualified.endsWith('IfExists') ? unqualified.slice(0, -'IfExists'.length) : unqualified;
      const matcher = MATCHERS[base];
      if (!matcher) throw new Error(`condition operator ${operator} is not modelled`);
      if (actual === undefined) return ifExists;
      if (base.startsWith('Numeric') && !/^-?\d+(\.\d+)?$/.test(actual)) return false;
      return base === 'StringNotEquals' ? values.every((v) => matcher(actual, v)) : values.some((v) => matcher(actual, v));
    }),
  );
}
