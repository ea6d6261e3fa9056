/** Counts per `service:Operation`; `get` answers 0 for an operation never seen. */
export class Counter {
  readonly #counts = new Map<string, number>();

  get(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  increment(key: string): void {
    this.#counts.set(key, this.get(key) + 1);
  }

  total(): number {
    let sum = 0;
    for (const n of this.#counts.values()) sum += n;
    return sum;
  }

  entries(): Array<[string, number]> {
    return [...this.#counts.entries()];
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }

  reset(): void {
    this.#counts.clear();
  }
}
