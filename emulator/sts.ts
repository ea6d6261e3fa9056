import { XmlWriter } from './xml.ts';

/** GetCallerIdentity only: how a CLI learns which account it reads. */
export class StsService {
  readonly #accountId: string;

  constructor(accountId: string) {
    this.#accountId = accountId;
  }

  readonly operations: Record<string, (form: URLSearchParams, requestId: string) => string> = {
    GetCallerIdentity: (_form, requestId) =>
      new XmlWriter()
        .open('GetCallerIdentityResponse', 'https://sts.amazonaws.com/doc/2011-06-15/')
        .open('GetCallerIdentityResult')
        .leaf('Arn', `arn:aws:iam::${this.#accountId}:user/emulator`)
        .leaf('UserId', 'AIDAEMULATOR')
        .leaf('Account', this.#accountId)
        .close('GetCallerIdentityResult')
        .open('ResponseMetadata')
        .leaf('RequestId', requestId)
        .close('ResponseMetadata')
        .close('GetCallerIdentityResponse')
        .toString(),
  };
}
