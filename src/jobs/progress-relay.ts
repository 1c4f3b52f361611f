import type { Db } from '../db/database.js';
import type { BackendInfo } from '../model/backend.js';
import type { ChildProgress } from './child-protocol.js';
import type { JobPhase } from './job-record.js';
import { touchJob, type JobControl, type JobLease, type NewJobEvent } from './job-repository.js';
import type { ProgressTracker } from './job-progress.js';

export interface RelayTiming {
  /** Least time between two progress writes (default 250 ms: at most 4 writes a second). */
  flushMs?: number;
  /** Heartbeat when there is nothing to write (default 5,000 ms). */
  heartbeatMs?: number;
  /** How often a cancellation request is looked for when nothing is written (default 500 ms). */
  cancelPollMs?: number;
  /** Least time between two step-progress rows in job_events (default 2,000 ms; epochs and phases are always recorded). */
  progressEventMs?: number;
}

/**
 * Carries a running job's progress from the child to the database at a bounded rate, and
 * brings back what the database says: cancellation requested, or the lease lost. One timer,
 * one statement per tick at most (progress + events + heartbeat, or a heartbeat, or a read),
 * so a job costs the database a few statements a second whatever its step rate.
 */
export class ProgressRelay {
  private readonly timing: Required<RelayTiming>;
  private readonly events: NewJobEvent[] = [];
  private backend: { backend: string; device: string } | undefined;
  private dirty = false;
  private lastWrite = 0;
  private lastHeartbeat = Date.now();
  private lastCheck = Date.now();
  private lastProgressEvent = 0;
  private timer: NodeJS.Timeout | undefined;
  private tick: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Statements written (progress, events, heartbeats), for the benchmark. */
  writes = 0;

  constructor(
    private readonly db: Db,
    private readonly lease: JobLease,
    private readonly tracker: ProgressTracker,
    private readonly onControl: (control: JobControl) => void,
    timing: RelayTiming = {},
    private readonly log: (line: string) => void = () => undefined,
  ) {
    this.timing = { flushMs: 250, heartbeatMs: 5000, cancelPollMs: 500, progressEventMs: 2000, ...timing };
  }

  start(): void {
    this.schedule();
  }

  phase(phase: JobPhase): void {
    this.tracker.phase(phase);
    this.events.push({ kind: 'phase', payload: { phase } });
    this.dirty = true;
  }

  /** `pid`: the training process, for operators (and for checking that it ends with its worker). */
  setBackend(info: BackendInfo, pid?: number): void {
    this.backend = { backend: info.backend, device: info.device };
    this.events.push({ kind: 'backend', payload: { backend: info.backend, device: info.device, package: info.package, threads: info.threads, pid } });
    this.dirty = true;
  }

  report(progress: ChildProgress): void {
    if (progress.kind === 'phase') return this.phase(progress.phase);
    if (progress.kind === 'trial') {
      // One event per finished trial of AUTO's search: the job's history is its trial table.
      this.events.push({ kind: 'trial', payload: { ...progress.trial } });
      this.dirty = true;
      return;
    }
    if (progress.kind === 'step') this.tracker.step(progress);
    else {
      this.tracker.epoch(progress);
      const { kind: _, ...payload } = progress;
      this.events.push({ kind: 'epoch', payload: { phase: this.tracker.snapshot().phase, ...payload } });
    }
    this.dirty = true;
  }

  /** Stops the timer and writes what is still pending (in order, before the job's final status). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.tick;
    if (this.dirty) await this.write(Date.now()).catch((error: Error) => this.log(`progress write failed: ${error.message}`));
  }

  private schedule(): void {
    if (this.stopped) return;
    const every = Math.min(this.timing.flushMs, this.timing.cancelPollMs);
    this.timer = setTimeout(() => {
      this.tick = this.runTick().finally(() => this.schedule());
    }, every);
  }

  private async runTick(): Promise<void> {
    const now = Date.now();
    try {
      let control: JobControl | undefined;
      if (this.dirty && now - this.lastWrite >= this.timing.flushMs) {
        control = await this.write(now);
      } else if (now - this.lastHeartbeat >= this.timing.heartbeatMs) {
        control = await touchJob(this.db, this.lease, { heartbeat: true });
        this.writes++;
        this.lastHeartbeat = this.lastCheck = now;
      } else if (now - this.lastCheck >= this.timing.cancelPollMs) {
        control = await touchJob(this.db, this.lease);
        this.lastCheck = now;
      }
      if (control && !this.stopped) this.onControl(control);
    } catch (error) {
      // A missed write is not fatal: the next tick retries; a lasting outage lets the heartbeat lapse.
      this.log(`job ${this.lease.jobId}: progress write failed: ${(error as Error).message}`);
    }
  }

  private async write(now: number): Promise<JobControl> {
    const progress = this.tracker.snapshot();
    const events = this.events.splice(0);
    if (now - this.lastProgressEvent >= this.timing.progressEventMs && progress.step > 0) {
      events.push({ kind: 'progress', payload: { ...progress } });
      this.lastProgressEvent = now;
    }
    const backend = this.backend;
    this.backend = undefined;
    this.dirty = false;
    this.lastWrite = this.lastHeartbeat = this.lastCheck = now;
    this.writes++;
    try {
      return await touchJob(this.db, this.lease, { progress, events, backend, heartbeat: true });
    } catch (error) {
      // Keep the events (epochs, phases) for the next attempt to write.
      this.events.unshift(...events.filter((e) => e.kind !== 'progress'));
      this.backend ??= backend;
      this.dirty = true;
      throw error;
    }
  }
}
