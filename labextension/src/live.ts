/**
 * Live updates: job changes pushed on the Jupyter Server event bus, plus a polling safety
 * net that backs off on errors, pauses while the panel is hidden, and stops once the server
 * has gone away.
 */
import { Event } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import {
  ApiError,
  errorMessage,
  IJob,
  JOB_EVENT_SCHEMA,
  JobsClient
} from './api';
import { JobsModel } from './model';

export interface ILiveOptions {
  model: JobsModel;
  client: JobsClient;
  /** The server's event bus; `null` when there is none (updates come from polling only). */
  events: Event.IManager | null;
  /** Whether the panel is on screen; the safety net stands by while it is not. */
  isVisible: () => boolean;
  /** A signal that fires when JupyterLab loses its server (`ServiceManager.connectionFailure`). */
  connectionLost?: ISignal<unknown, Error> | null;
  /** Base polling interval in ms (default 10 s). */
  interval?: number;
  /** Longest interval after repeated failures in ms (default 2 min). */
  maxInterval?: number;
  /** Consecutive "server gone" failures after which polling stops (default 3). */
  goneAfter?: number;
}

/** Fetch what the panel shows: who is looking (once), the jobs and the sites. */
export async function refreshAll(
  model: JobsModel,
  client: JobsClient
): Promise<void> {
  if (!model.whoami) {
    model.setWhoami(await client.whoami());
  }
  const owner = model.isAdmin && model.userFilter ? model.userFilter : null;
  const [list, sites] = await Promise.all([
    client.listJobs({ user: owner }),
    client.sites()
  ]);
  model.merge(
    list.jobs,
    list.next_offset === null || list.next_offset === undefined,
    owner
  );
  model.setSites(sites);
}

/** Why live updates stopped when the Jupyter server went away. */
function lostContact(why: string): string {
  return (
    `Lost contact with the Jupyter server (${why}); live updates stopped. ` +
    'Reconnect once it is back.'
  );
}

/** A job change carried by an event-bus emission of our schema. */
export interface IJobEvent {
  job: IJob;
  /** `job`: the job changed; `notebook`: its executed notebook was saved at `path`. */
  type: string;
  path?: string;
}

/** The job change in an event-bus emission, or `null` when it is not one of ours. */
export function jobFromEvent(event: Event.Emission): IJobEvent | null {
  if (event.schema_id !== JOB_EVENT_SCHEMA) {
    return null;
  }
  const data = event as { job?: unknown; type?: unknown; path?: unknown };
  const job = data.job;
  if (!job || typeof job !== 'object' || typeof (job as IJob).id !== 'string') {
    return null;
  }
  return {
    job: job as IJob,
    type: typeof data.type === 'string' ? data.type : 'job',
    path: typeof data.path === 'string' ? data.path : undefined
  };
}

export class LiveUpdates implements IDisposable {
  private _poll: Poll | null = null;
  private _failures = 0;
  private _listening = false;
  private _disposed = false;
  private _stopped = new Signal<this, string>(this);
  private readonly _interval: number;
  private readonly _max: number;
  private readonly _goneAfter: number;

  constructor(private readonly _options: ILiveOptions) {
    this._interval = _options.interval ?? 10_000;
    this._max = _options.maxInterval ?? 120_000;
    this._goneAfter = _options.goneAfter ?? 3;
  }

  /** Emitted with the reason when updates stop because the server went away. */
  get stopped(): ISignal<this, string> {
    return this._stopped;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** The safety-net poll while running (`null` once stopped). */
  get poll(): Poll | null {
    return this._poll;
  }

  get running(): boolean {
    return this._poll !== null;
  }

  /** Start (or restart after a stop): listen to events and poll now, then periodically. */
  start(): void {
    if (this._disposed || this._poll) {
      return;
    }
    this._failures = 0;
    this._options.model.setConnection('connecting');
    if (!this._listening) {
      this._options.events?.stream.connect(this._onEvent, this);
      this._options.connectionLost?.connect(this._onConnectionLost, this);
      this._listening = true;
    }
    this._poll = new Poll({
      auto: false,
      factory: () => this._tick(),
      frequency: { interval: this._interval, backoff: true, max: this._max },
      standby: () => (this._options.isVisible() ? 'when-hidden' : true),
      name: 'aiinfn-hub:jobs'
    });
    void this._poll.start();
  }

  /** Poll now (e.g. when the panel is shown again, or after an action). */
  async refresh(): Promise<void> {
    if (this._poll) {
      await this._poll.refresh();
      await this._poll.tick;
    }
  }

  /** Stop everything, saying why; `start()` resumes. */
  stop(reason: string): void {
    if (!this._poll) {
      return;
    }
    const poll = this._poll;
    this._poll = null;
    poll.dispose();
    this._unlisten();
    this._options.model.setConnection('stopped', reason);
    this._stopped.emit(reason);
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._poll?.dispose();
    this._poll = null;
    this._unlisten();
    Signal.clearData(this);
  }

  private _unlisten(): void {
    if (this._listening) {
      this._options.events?.stream.disconnect(this._onEvent, this);
      this._options.connectionLost?.disconnect(this._onConnectionLost, this);
      this._listening = false;
    }
  }

  private async _tick(): Promise<void> {
    const { model, client } = this._options;
    try {
      await refreshAll(model, client);
    } catch (error) {
      if (error instanceof ApiError && error.serverGone) {
        this._failures += 1;
        if (this._failures >= this._goneAfter) {
          // Stop outside the poll's own tick, which is still settling.
          void Promise.resolve().then(() =>
            this.stop(lostContact(error.message))
          );
          return;
        }
      }
      const message = errorMessage(error);
      model.setConnection(
        'connecting',
        `Updates delayed, retrying: ${message}`
      );
      throw error;
    }
    this._failures = 0;
    model.setConnection('live');
  }

  private _onEvent(_: unknown, event: Event.Emission): void {
    const change = jobFromEvent(event);
    if (!change) {
      return;
    }
    this._options.model.upsert(change.job);
    if (change.type === 'notebook' && change.path) {
      this._options.model.setExecutedNotebook(change.job, change.path);
    }
  }

  private _onConnectionLost(_: unknown, error: Error): void {
    this.stop(lostContact(error.message));
  }
}
