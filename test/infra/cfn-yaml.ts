import { parse, isMap, isSeq } from 'yaml';
import type { CollectionTag, ScalarTag } from 'yaml';

/** A CloudFormation template as plain JSON-shaped data (short-form tags expanded to `Fn::*`). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

// Short forms and the long name each expands to; `!Ref` and `!Condition` keep their bare names.
const SHORT_FORMS: Record<string, string> = {
  Ref: 'Ref',
  Condition: 'Condition',
  GetAtt: 'Fn::GetAtt',
  Sub: 'Fn::Sub',
  If: 'Fn::If',
  Equals: 'Fn::Equals',
  Not: 'Fn::Not',
  And: 'Fn::And',
  Or: 'Fn::Or',
  Select: 'Fn::Select',
  Split: 'Fn::Split',
  Join: 'Fn::Join',
  FindInMap: 'Fn::FindInMap',
  ImportValue: 'Fn::ImportValue',
  Base64: 'Fn::Base64',
  Cidr: 'Fn::Cidr',
  GetAZs: 'Fn::GetAZs',
  Transform: 'Fn::Transform',
};

function expandGetAtt(value: unknown): unknown {
  // `!GetAtt Resource.Attribute` splits at the first dot, like CloudFormation does.
  if (typeof value !== 'string') return value;
  const dot = value.indexOf('.');
  return dot < 0 ? [value] : [value.slice(0, dot), value.slice(dot + 1)];
}

function tagsFor(short: string, long: string): (ScalarTag | CollectionTag)[] {
  const wrap = (value: unknown) => ({ [long]: short === 'GetAtt' ? expandGetAtt(value) : value });
  return [
    { tag: `!${short}`, resolve: (str: string) => wrap(str) },
    {
      tag: `!${short}`,
      collection: 'seq',
      resolve: (seq) => (isSeq(seq) ? wrap(seq.toJSON()) : seq),
    },
    {
      tag: `!${short}`,
      collection: 'map',
      resolve: (map) => (isMap(map) ? wrap(map.toJSON()) : map),
    },
  ] as (ScalarTag | CollectionTag)[];
}

const CUSTOM_TAGS = Object.entries(SHORT_FORMS).flatMap(([short, long]) => tagsFor(short, long));

/** Parses CloudFormation YAML, turning every short-form tag into its JSON long form. */
export function parseTemplate(text: string): JsonObject {
  const doc = parse(text, { customTags: CUSTOM_TAGS, uniqueKeys: true, maxAliasCount: -1 }) as unknown;
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new Error('a template must be a YAML mapping');
  }
  return doc as JsonObject;
}

