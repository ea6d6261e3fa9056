export type ErrorFault = 'Sender' | 'Receiver';

/** An error the emulator answers with, in the wire shape of the service's protocol. */
export class AwsError extends Error {
  override name = 'AwsError';
  readonly code: string;
  readonly status: number;
  readonly fault: ErrorFault;

  constructor(code: string, message: string, status = 400, fault: ErrorFault = status >= 500 ? 'Receiver' : 'Sender') {
    super(message);
    this.code = code;
    this.status = status;
    this.fault = fault;
  }
}

/** A mistake in how a test drives the emulator, as opposed to an AWS error sent over the wire. */
export class EmulatorUsageError extends Error {
  override name = 'EmulatorUsageError';
}
