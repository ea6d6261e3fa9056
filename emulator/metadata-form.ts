import { AwsError } from './errors.ts';
import { formInteger } from './form.ts';
import type { MetadataOptions } from './instance.ts';
import type { XmlWriter } from './xml.ts';

const TOKENS = new Set(['optional', 'required']);
const TOGGLES = new Set(['enabled', 'disabled']);

/**
 * Metadata options from a query-protocol form, checked as EC2 checks them: the fields of
 * ModifyInstanceMetadataOptions (no prefix) or of a launch template's
 * `LaunchTemplateData.MetadataOptions.` Only the fields the request carries are returned.
 */
export function readMetadataOptions(form: URLSearchParams, prefix = ''): Partial<Omit<MetadataOptions, 'state'>> {
  const requested: Partial<Omit<MetadataOptions, 'state'>> = {};
  const tokens = form.get(`${prefix}HttpTokens`);
  if (tokens !== null) {
    if (!TOKENS.has(tokens)) throw invalidParameterValue('HttpTokens', tokens);
    requested.httpTokens = tokens as MetadataOptions['httpTokens'];
  }
  const hopLimit = formInteger(form, `${prefix}HttpPutResponseHopLimit`);
  if (hopLimit !== undefined) {
    if (hopLimit < 1 || hopLimit > 64) {
      throw new AwsError('InvalidParameterValue', `The value '${hopLimit}' for HttpPutResponseHopLimit is invalid. Specify a value between 1 and 64.`);
    }
    requested.httpPutResponseHopLimit = hopLimit;
  }
  for (const [param, field] of [
    ['HttpEndpoint', 'httpEndpoint'],
    ['HttpProtocolIpv6', 'httpProtocolIpv6'],
    ['InstanceMetadataTags', 'instanceMetadataTags'],
  ] as const) {
    const value = form.get(`${prefix}${param}`);
    if (value === null) continue;
    if (!TOGGLES.has(value)) throw invalidParameterValue(param, value);
    requested[field] = value as MetadataOptions[typeof field];
  }
  return requested;
}

export function invalidParameterValue(param: string, value: string): AwsError {
  return new AwsError('InvalidParameterValue', `Value (${value}) for parameter ${param} is invalid.`);
}

export function dryRunError(): AwsError {
  return new AwsError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
}

/** Metadata options in EC2's XML; absent fields are left out, as EC2 does for a template that sets few. */
export function writeMetadataOptions(xml: XmlWriter, element: string, options: Partial<MetadataOptions>): void {
  xml
    .open(element)
    .leaf('state', options.state)
    .leaf('httpTokens', options.httpTokens)
    .leaf('httpPutResponseHopLimit', options.httpPutResponseHopLimit)
    .leaf('httpEndpoint', options.httpEndpoint)
    .leaf('httpProtocolIpv6', options.httpProtocolIpv6)
    .leaf('instanceMetadataTags', options.instanceMetadataTags)
    .close(element);
}
