import pg from 'pg';
import type { GraftDatabase } from '../db/connect.js';
import { GraftError } from '../errors.js';
import { EVENTS_CHANNEL, parseEventsNotification, type EventsNotification } from '../logs/events-notification.js';
import { ACTIVATION_CHANNEL } from '../registry/activation.js';
import type { ServingLogger } from './recommendation.types.js';
import { readActiveModelIds } from './serving-repository.js';

export interface ActivationWatcherOptions {
  /** PGlite: how often domains.active_model_id is read. Default 1,000 ms. */
  pollMs?: number;
  logger: ServingLogger;
  /** The domains worth checking (those loaded). */
  domains: () => string[];
  /** Called with a domain's active model id; may repeat the current one (the receiver ignores no-ops). */
  onActiveModel: (domain: string, modelId: string | null) => void;
  /**
   * Postgres only: events were recorded for these users of a domain (every user when `users` is
   * absent) by any process; also called for every loaded domain after a reconnect, since
   * notifications sent while disconnected are lost.
   */
  onEventsRecorded?: (notification: EventsNotification) => void;
}

export interface ActivationWatcher {
  stop(): Promise<void>;
}

const MAX_RECONNECT_MS = 30_000;

/**
 * Learns of activations made anywhere: on Postgres through LISTEN on ACTIVATION_CHANNEL over a
 * dedicated connection (a pooled one would be handed back and lose its LISTEN), reconnecting
 * with backoff and re-reading the active models after each (re)connect, since notifications
 * sent while disconnected are lost. On PGlite (one process, no other writer to hear from) by
 * polling `domains.active_model_id` of the loaded domains.
 */
export async function startActivationWatcher(gdb: GraftDatabase, options: ActivationWatcherOptions): Promise<ActivationWatcher> {
  const resync = async () => {
    const names = options.domains();
    if (names.length === 0) return;
    const active = await readActiveModelIds(gdb.db, names);
    for (const [domain, modelId] of active) options.onActiveModel(domain, modelId);
  };
  if (gdb.kind === 'postgres' && gdb.pool) {
    const listener = new ActivationListener(gdb.pool.options, options, resync);
    await listener.start();
    return listener;
  }
  const pollMs = options.pollMs ?? 1_000;
  if (!Number.isFinite(pollMs) || pollMs < 10) {
    throw new GraftError('BAD_INPUT', `pollMs = ${pollMs} is too small; poll every 10 ms or more (default 1000)`);
  }
  let running = false;
  let stopped = false;
  const timer = setInterval(() => {
    if (running || stopped) return; // a slow database must not pile up polls
    running = true;
    resync()
      .catch((error: Error) => options.logger.warn({ error: error.message }, 'reading active models failed; retrying at the next poll'))
      .finally(() => (running = false));
  }, pollMs);
  timer.unref();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}

class ActivationListener implements ActivationWatcher {
  private client: pg.Client | null = null;
  private stopped = false;
  private failures = 0;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly options: ActivationWatcherOptions,
    private readonly resync: () => Promise<void>,
  ) {}

  /** First connection: failures are the caller's to see (UNAVAILABLE); later ones retry in the background. */
  async start(): Promise<void> {
    try {
      await this.connect();
    } catch (cause) {
      throw new GraftError('UNAVAILABLE', `cannot LISTEN for model activations: ${(cause as Error).message}; check that Postgres is reachable`, { cause });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('connection closed')));
    client.on('notification', (message) => {
      if (!message.payload) return;
      if (message.channel === EVENTS_CHANNEL) {
        const events = parseEventsNotification(message.payload);
        if (events) this.options.onEventsRecorded?.(events);
        else this.options.logger.warn({ payload: message.payload }, 'ignoring a malformed events notification');
        return;
      }
      if (message.channel !== ACTIVATION_CHANNEL) return;
      try {
        const payload = JSON.parse(message.payload) as { domain?: unknown; modelId?: unknown };
        if (typeof payload.domain === 'string' && typeof payload.modelId === 'string') this.options.onActiveModel(payload.domain, payload.modelId);
      } catch {
        this.options.logger.warn({ payload: message.payload }, 'ignoring a malformed activation notification');
      }
    });
    try {
      await client.connect();
      await client.query(`listen ${ACTIVATION_CHANNEL}; listen ${EVENTS_CHANNEL}`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
    for (const domain of this.options.domains()) this.options.onEventsRecorded?.({ domain });
    await this.resync().catch((error: Error) => this.options.logger.warn({ error: error.message }, 'reading active models after connecting failed'));
  }

  private lost(client: pg.Client, error: Error): void {
    if (this.stopped || this.client !== client) return;
    this.client = null;
    client.end().catch(() => undefined);
    this.options.logger.warn({ error: error.message }, 'activation listener lost its connection; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = Math.min(MAX_RECONNECT_MS, 200 * 2 ** this.failures++);
    this.retry = setTimeout(() => {
      this.retry = null;
      this.connect().catch((error: Error) => {
        this.options.logger.warn({ error: error.message, retryInMs: Math.min(MAX_RECONNECT_MS, 200 * 2 ** this.failures) }, 'activation listener could not reconnect');
        this.scheduleReconnect();
      });
    }, delay);
    this.retry.unref();
  }
}
