/**
 * The monitor's execution list: one page of a state machine's executions with the status and
 * mode asked for, newest first, with a page token of the monitor's own.
 */
import {
  type ExecutionListItem,
  type ExecutionStatus,
  ListExecutionsCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { originOf } from '../indexer-client.ts';

/** A page position: Step Functions' token for a page and how many of that page were already shown. */
export interface PageToken {
  readonly token?: string;
  readonly skip: number;
}
const encodeToken = (token: PageToken): string => Buffer.from(JSON.stringify(token)).toString('base64url');
export function decodeToken(text: string | null): PageToken {
  if (!text) return { skip: 0 };
  try {
    const token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as PageToken;
    if (Number.isInteger(token.skip) && token.skip >= 0) return token;
  } catch {
    // answered below
  }
  throw new SyntaxError('nextToken is not one this monitor gave out');
}

/**
 * One page of executions with the status and mode asked for. Step Functions filters by status;
 * the mode (the name's prefix) is filtered here, reading at most 10 pages of 100 per request.
 */
export async function listExecutionPage(
  sfn: SFNClient,
  stateMachineArn: string,
  filter: {
    readonly status?: ExecutionStatus;
    readonly mode?: string;
    readonly pageSize: number;
    readonly from: PageToken;
  },
): Promise<{ executions: ExecutionListItem[]; nextToken?: string }> {
  const rows: ExecutionListItem[] = [];
  let position = filter.from;
  for (let reads = 0; reads < 10; reads += 1) {
    const listed = await sfn.send(
      new ListExecutionsCommand({
        stateMachineArn,
        // Unfiltered by mode, one page of the size asked for is enough (the page polls every second).
        maxResults: filter.mode ? 100 : filter.pageSize,
        ...(filter.status ? { statusFilter: filter.status } : {}),
        ...(position.token ? { nextToken: position.token } : {}),
      }),
    );
    const page = listed.executions ?? [];
    for (let i = position.skip; i < page.length; i += 1) {
      const row = page[i]!;
      if (filter.mode && originOf(row.name ?? '') !== filter.mode) continue;
      rows.push(row);
      if (rows.length === filter.pageSize) {
        const rest =
          i + 1 < page.length
            ? { token: position.token, skip: i + 1 }
            : listed.nextToken
              ? { token: listed.nextToken, skip: 0 }
              : undefined;
        return { executions: rows, ...(rest ? { nextToken: encodeToken(rest) } : {}) };
      }
    }
    if (!listed.nextToken) return { executions: rows };
    position = { token: listed.nextToken, skip: 0 };
  }
  return { executions: rows, nextToken: encodeToken(position) };
}
