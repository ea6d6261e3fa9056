import type { IncomingHttpHeaders } from 'node:http';
import { AwsError } from './errors.ts';
import { XmlWriter } from './xml.ts';

export type ServiceName = 'ec2' | 'config' | 'sns' | 'cloudwatch' | 'sqs' | 'events' | 'autoscaling' | 'sts';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type ParsedRequest =
  | { kind: 'query'; service: ServiceName; operation: string; form: URLSearchParams }
  | { kind: 'json'; service: ServiceName; operation: string; input: Record<string, unknown> }
  | { kind: 'unroutable'; service: ServiceName | undefined; error: AwsError };

const JSON_TARGETS: Readonly<Record<string, ServiceName>> = {
  StarlingDoveService: 'config',
  GraniteServiceVersion20100801: 'cloudwatch',
  AmazonSQS: 'sqs',
  AWSEvents: 'events',
};

/** SigV4 scope names; the query API version is the fallback for unsigned requests. */
const QUERY_SERVICES: Readonly<Record<string, ServiceName>> = { ec2: 'ec2', sns: 'sns', autoscaling: 'autoscaling', sts: 'sts' };
const QUERY_VERSIONS: Readonly<Record<string, ServiceName>> = { '2016-11-15': 'ec2', '2010-03-31': 'sns', '2011-01-01': 'autoscaling', '2011-06-15': 'sts' };

export function parseRequest(headers: IncomingHttpHeaders, body: string): ParsedRequest {
  const target = headers['x-amz-target'];
  if (typeof target === 'string') {
    const dot = target.lastIndexOf('.');
    const service = JSON_TARGETS[target.slice(0, dot)];
    const operation = target.slice(dot + 1);
    if (service === undefined || dot === -1) {
      return { kind: 'unroutable', service: 'config', error: new AwsError('UnknownOperationException', `Unknown operation ${target}`) };
    }
    let input: unknown;
    try {
      input = body === '' ? {} : JSON.parse(body);
    } catch {
      return { kind: 'unroutable', service, error: new AwsError('SerializationException', 'Malformed JSON request body') };
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      return { kind: 'unroutable', service, error: new AwsError('SerializationException', 'Request body must be a JSON object') };
    }
    return { kind: 'json', service, operation, input: input as Record<string, unknown> };
  }

  const form = new URLSearchParams(body);
  const scope = credentialScopeService(headers['authorization']);
  const service = (scope === undefined ? undefined : QUERY_SERVICES[scope]) ?? QUERY_VERSIONS[form.get('Version') ?? ''];
  const action = form.get('Action');
  if (service === undefined) {
    return {
      kind: 'unroutable',
      service: undefined,
      error: new AwsError('InvalidAction', `The action ${action ?? '(none)'} is not valid for this web service.`),
    };
  }
  if (action === null || action === '') {
    return { kind: 'unroutable', service, error: new AwsError('MissingAction', 'The request must contain the parameter Action') };
  }
  return { kind: 'query', service, operation: action, form };
}

const QUERY_NAMESPACES = {
  sns: 'http://sns.amazonaws.com/doc/2010-03-31/',
  autoscaling: 'http://autoscaling.amazonaws.com/doc/2011-01-01/',
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
} as const;

export function unknownOperation(service: ServiceName, operation: string): AwsError {
  if (service === 'ec2' || service === 'sns' || service === 'autoscaling' || service === 'sts') {
    return new AwsError('InvalidAction', `The action ${operation} is not valid for this web service.`);
  }
  return new AwsError('UnknownOperationException', `Unknown operation ${operation}`);
}

/** `Credential=AKID/20250101/us-east-1/ec2/aws4_request` → `ec2`. */
function credentialScopeService(authorization: string | undefined): string | undefined {
  return authorization === undefined ? undefined : /Credential=[^/,\s]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(authorization)?.[1];
}

export function xmlAnswer(body: string, requestId: string): HttpAnswer {
  return { status: 200, headers: { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId }, body };
}

export function jsonAnswer(service: ServiceName, output: unknown, requestId: string): HttpAnswer {
  return { status: 200, headers: { 'content-type': jsonContentType(service), 'x-amzn-requestid': requestId }, body: JSON.stringify(output) };
}

/** CloudWatch is awsJson1_0 with awsQueryCompatible: the query-era code travels in a header. */
const CLOUDWATCH_SHAPES: Readonly<Record<string, string>> = {
  InvalidParameterValue: 'InvalidParameterValueException',
  MissingParameter: 'MissingRequiredParameterException',
  InvalidParameterCombination: 'InvalidParameterCombinationException',
  InternalServiceError: 'InternalServiceFault',
};

/** SQS is awsJson1_0 with awsQueryCompatible: some errors keep their query-era code in a header. */
const SQS_QUERY_CODES: Readonly<Record<string, string>> = {
  QueueDoesNotExist: 'AWS.SimpleQueueService.NonExistentQueue',
};

export function errorAnswer(service: ServiceName | undefined, error: AwsError, requestId: string): HttpAnswer {
  switch (service) {
    case 'config':
    case 'events':
      return {
        status: error.status,
        headers: { 'content-type': jsonContentType(service), 'x-amzn-requestid': requestId },
        body: JSON.stringify({ __type: error.code, message: error.message }),
      };
    case 'cloudwatch':
      return {
        status: error.status,
        headers: {
          'content-type': jsonContentType(service),
          'x-amzn-requestid': requestId,
          'x-amzn-query-error': `${error.code};${error.fault}`,
        },
        body: JSON.stringify({ __type: CLOUDWATCH_SHAPES[error.code] ?? error.code, message: error.message }),
      };
    case 'sqs':
      return {
        status: error.status,
        headers: {
          'content-type': jsonContentType(service),
          'x-amzn-requestid': requestId,
          'x-amzn-query-error': `${SQS_QUERY_CODES[error.code] ?? error.code};${error.fault}`,
        },
        body: JSON.stringify({ __type: `com.amazonaws.sqs#${error.code}`, message: error.message }),
      };
    case 'sns':
    case 'autoscaling':
    case 'sts': {
      const xml = new XmlWriter()
        .open('ErrorResponse', QUERY_NAMESPACES[service])
        .open('Error')
        .leaf('Type', error.fault)
        .leaf('Code', error.code)
        .leaf('Message', error.message)
        .close('Error')
        .leaf('RequestId', requestId)
        .close('ErrorResponse');
      return { status: error.status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body: xml.toString() };
    }
    case 'ec2':
    case undefined: {
      const xml = new XmlWriter()
        .open('Response')
        .open('Errors')
        .open('Error')
        .leaf('Code', error.code)
        .leaf('Message', error.message)
        .close('Error')
        .close('Errors')
        .leaf('RequestID', requestId)
        .close('Response');
      return { status: error.status, headers: { 'content-type': 'text/xml;charset=UTF-8' }, body: xml.toString() };
    }
  }
}

/** The error each service answers an injected fault with. */
export function injectedError(service: ServiceName, kind: 'throttle' | 'server-error' | 'unavailable'): AwsError {
  const table: Record<ServiceName, Record<typeof kind, AwsError>> = {
    ec2: {
      throttle: new AwsError('RequestLimitExceeded', 'Request limit exceeded.', 503, 'Sender'),
      'server-error': new AwsError('InternalError', 'An internal error has occurred', 500),
      unavailable: new AwsError('Unavailable', "The server is overloaded and can't handle the request.", 503),
    },
    config: {
      throttle: new AwsError('ThrottlingException', 'Rate exceeded', 400),
      'server-error': new AwsError('InternalFailure', 'An internal error occurred.', 500),
      unavailable: new AwsError('ServiceUnavailable', 'Service is unavailable.', 503),
    },
    sns: {
      throttle: new AwsError('Throttling', 'Rate exceeded', 400),
      'server-error': new AwsError('InternalError', 'An internal error occurred.', 500),
      unavailable: new AwsError('ServiceUnavailable', 'Service is unavailable.', 503),
    },
    events: {
      throttle: new AwsError('ThrottlingException', 'Rate exceeded', 400),
      'server-error': new AwsError('InternalException', 'An internal error occurred.', 500),
      unavailable: new AwsError('ServiceUnavailable', 'Service is unavailable.', 503),
    },
    sts: {
      throttle: new AwsError('Throttling', 'Rate exceeded', 400),
      'server-error': new AwsError('InternalFailure', 'An internal error occurred.', 500),
      unavailable: new AwsError('ServiceUnavailable', 'Service is unavailable.', 503),
    },
    autoscaling: {
      throttle: new AwsError('Throttling', 'Rate exceeded', 400),
      'server-error': new AwsError('InternalFailure', 'An internal error occurred.', 500),
      unavailable: new AwsError('ServiceUnavailable', 'Service is unavailable.', 503),
    },
    cloudwatch: {
      throttle: new AwsError('Throttling', 'Rate exceeded', 400),
      'server-error': new AwsError('InternalServiceError', 'An internal error occurred.', 500),
      unavailable: new AwsError('ServiceUnavailable', 'Service is unavailable.', 503),
    },
    sqs: {
      throttle: new AwsError('RequestThrottled', 'Rate exceeded', 400),
      'server-error': new AwsError('InternalError', 'An internal error occurred.', 500),
      unavailable: new AwsError('ServiceUnavailable', 'Service is unavailable.', 503),
    },
  };
  return table[service][kind];
}

function jsonContentType(service: ServiceName): string {
  return service === 'cloudwatch' || service === 'sqs' ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1';
}
