import { paginateDescribeInstances, type EC2Client } from '@aws-sdk/client-ec2';
import { sweepFilters } from './eks-node.ts';
import { factsFromEc2Instance } from './instance.ts';
import { judgeInstance, type Judgement } from './judge.ts';
import type { RuleParameters } from './parameters.ts';

/** DescribeInstances' largest page: the fewest calls for a fleet. */
const DESCRIBE_PAGE_SIZE = 1000;

/**
 * Every live instance carrying a node tag key, judged page by page: a page is released before
 * the next is read, so memory stays flat however large the fleet. Non-nodes are filtered by EC2.
 */
export async function* sweepEksNodes(
  ec2: Pick<EC2Client, 'send'>,
  params: RuleParameters,
  evaluatedAt: Date,
): AsyncGenerator<readonly Judgement[]> {
  const pages = paginateDescribeInstances(
    { client: ec2 as EC2Client, pageSize: DESCRIBE_PAGE_SIZE },
    // EKS Auto Mode nodes are EC2 managed instances, hidden from DescribeInstances unless asked for.
    { Filters: sweepFilters(params), IncludeManagedResources: true },
  );
  for await (const page of pages) {
    const judged: Judgement[] = [];
    for (const reservation of page.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) judged.push(judgeInstance(factsFromEc2Instance(instance), params, evaluatedAt));
    }
    yield judged;
  }
}
