import type { Deadline } from './deadline.js';

/**
 * Runs the costliest operations one at a time per process. An operation's execution is largely
 * one stretch of JavaScript whose length grows with its result (resolving, then serialising
 * every field), so two clients' heavy operations in flight together hold the event loop twice as
 * long between turns of everyone else's requests. Operations above `threshold` queue here (FIFO)
 * while another heavy one runs; cheaper ones never wait. After a heavy operation the next one
 * waits as long as the last one ran (`restShare` times that), so heavy operations, however many
 * clients send them back to back, hold at most half of the process's time. A queued operation
 * stops waiting when its time budget is spent.
 *
 * @example
 * const gate = new HeavyGate(5_000);
 * const release = await gate.enter(cost, deadline);   // undefined: its budget ran out while queued
 * try { await run(); } finally { release?.(); }
 */
export class HeavyGate {
  private running = false;
  private readonly queue: Array<() => void> = [];

  constructor(
    /** Estimated cost above which an operation is heavy. */
    readonly threshold: number,
    /** Rest after each heavy operation, as a share of how long it ran (1: heavy work gets at most half the time). */
    readonly restShare = 1,
  ) {}

  /** Resolves with a release function once the operation may run (at once when it is not heavy), or undefined when its budget runs out first (the deadline is then expired). */
  async enter(cost: number, deadline: Pick<Deadline, 'remainingMs' | 'expire'>): Promise<(() => void) | undefined> {
    if (cost <= this.threshold) return () => undefined;
    if (this.running) {
      const admitted = await new Promise<boolean>((resolve) => {
        const turn = () => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(() => {
          const at = this.queue.indexOf(turn);
          if (at !== -1) this.queue.splice(at, 1);
          deadline.expire();
          resolve(false);
        }, Math.max(0, deadline.remainingMs));
        this.queue.push(turn);
      });
      if (!admitted) return undefined;
    }
    this.running = true;
    const started = Date.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const handOver = () => {
        const next = this.queue.shift();
        if (next) next();
        else this.running = false;
      };
      const rest = (Date.now() - started) * this.restShare;
      if (rest >= 1) setTimeout(handOver, rest);
      else handOver();
    };
  }

  /** Heavy operations waiting. */
  get waiting(): number {
    return this.queue.length;
  }
}
