/**
 * The default wait between retries and polls; injectable wherever it is used. Its own module, so
 * code that only waits (the shared Config protocol) does not import the EC2 client, whose
 * commands the IAM derivation would otherwise grant every rule.
 */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
