import { randomBytes } from 'node:crypto';

interface Snapshot<T> {
  readonly items: readonly T[];
}

/**
 * Pages over a result list captured when the first page is asked for, so each later page costs
 * O(page) instead of re-filtering the whole store, and concurrent changes cannot shift an offset
 * and skip items. Tokens stay valid (a retried page gets the same answer) until evicted.
 */
export class SnapshotPager<T> {
  readonly #snapshots = new Map<string, Snapshot<T>>();
  readonly #capacity: number;

  constructor(capacity = 256) {
    this.#capacity = capacity;
  }

  first(items: readonly T[], pageSize: number): { page: readonly T[]; nextToken: string | undefined } {
    if (items.length <= pageSize) return { page: items, nextToken: undefined };
    const id = randomBytes(9).toString('base64url');
    this.#snapshots.set(id, { items });
    while (this.#snapshots.size > this.#capacity) {
      const oldest = this.#snapshots.keys().next().value;
      if (oldest === undefined) break;
      this.#snapshots.delete(oldest);
    }
    return { page: items.slice(0, pageSize), nextToken: encodeToken(id, pageSize) };
  }

  /** Undefined when the token is unknown, malformed or evicted; the caller picks the AWS error. */
  next(token: string, pageSize: number): { page: readonly T[]; nextToken: string | undefined } | undefined {
    const decoded = decodeToken(token);
    if (decoded === undefined) return undefined;
    const snapshot = this.#snapshots.get(decoded.id);
    if (snapshot === undefined) return undefined;
    const end = decoded.offset + pageSize;
    const page = snapshot.items.slice(decoded.offset, end);
    return { page, nextToken: end < snapshot.items.length ? encodeToken(decoded.id, end) : undefined };
  }

  clear(): void {
    this.#snapshots.clear();
  }
}

function encodeToken(id: string, offset: number): string {
  return Buffer.from(`${id}:${offset}`, 'utf8').toString('base64url');
}

function decodeToken(token: string): { id: string; offset: number } | undefined {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const match = /^([A-Za-z0-9_-]+):(\d+)$/.exec(text);
  if (match === null) return undefined;
  return { id: match[1] ?? '', offset: Number(match[2]) };
}
