import { GraphQLError } from 'graphql';

/**
 * The time budget of one operation. The executor races the operation against it: past the
 * budget the client gets TIMEOUT at once and `signal` aborts, so resolvers that have not started
 * yet (`check()`) and library calls given the signal stop instead of finishing work nobody
 * will read.
 *
 * @example
 * const deadline = new Deadline(10_000, 'APP keys');
 * const result = await deadline.race(runOperation());   // TIMEOUT error result past 10 s
 */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly startedAt = Date.now();

  constructor(
    /** Budget in ms. */
    readonly budgetMs: number,
    /** Who the budget is for, as messages name it (`APP keys`). */
    readonly who: string,
  ) {}

  /** Aborts when the budget is spent (or the operation is cancelled otherwise). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get expired(): boolean {
    return this.controller.signal.aborted;
  }

  /** Ms left of the budget (negative once spent). */
  get remainingMs(): number {
    return this.budgetMs - (Date.now() - this.startedAt);
  }

  /** Spends the budget now: the signal aborts and `check()` throws. */
  expire(): void {
    this.controller.abort();
  }

  /** Throws the TIMEOUT error once the budget is spent: resolvers call it before starting costly work. */
  check(): void {
    if (this.controller.signal.aborted || Date.now() - this.startedAt > this.budgetMs) {
      this.controller.abort();
      throw this.error();
    }
  }

  /** `work`'s result, or `onTimeout()`'s once the budget is spent first (the signal then aborts). */
  async race<T>(work: Promise<T>, onTimeout: (error: GraphQLError) => T): Promise<T> {
    const remaining = this.remainingMs;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<T>((resolve) => {
      timer = setTimeout(() => {
        this.controller.abort();
        resolve(onTimeout(this.error()));
      }, Math.max(0, remaining));
    });
    try {
      return await Promise.race([work, expired]);
    } finally {
      clearTimeout(timer);
      // Work still pending after a timeout may settle later: nobody reads it.
      work.catch(() => undefined);
    }
  }

  error(): GraphQLError {
    return new GraphQLError(
      `the operation ran past its time budget of ${this.budgetMs} ms for ${this.who} and was cancelled; ask for less (smaller pages, fewer fields) or split it into several requests`,
      { extensions: { code: 'TIMEOUT', http: { status: 503 } } },
    );
  }
}
