/**
 * The panel's state: the jobs it knows, which one is open, the sites, who is looking, and
 * whether live updates are flowing. Pure reducers first, then the model that uses them.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { IJob, ISite, IWhoami } from './api';
import { isTerminal } from './format';

/** A change worth telling the user about. */
export type Transition = 'succeeded' | 'failed' | 'fell_back';

export interface ITransition {
  job: IJob;
  kind: Transition;
}

export type Connection = 'connecting' | 'live' | 'stopped';

export function fellBackCount(job: IJob): number {
  return (job.attempts ?? []).filter(a => a.outcome === 'fell_back').length;
}

/** What changed from `previous` to `next` that deserves a notification, if anything. */
export function transitionOf(
  previous: IJob | undefined,
  next: IJob
): Transition | null {
  if (!previous) {
    return null;
  }
  if (isTerminal(next.state) && next.state !== previous.state) {
    if (next.state === 'succeeded' || next.state === 'failed') {
      return next.state;
    }
    return null;
  }
  if (fellBackCount(next) > fellBackCount(previous)) {
    return 'fell_back';
  }
  return null;
}

/**
 * True when `next` is older news than `previous`: an ended job never goes back to running
 * (a poll answered before the job ended, arriving after the event that ended it).
 */
export function isStale(previous: IJob | undefined, next: IJob): boolean {
  return !!previous && isTerminal(previous.state) && !isTerminal(next.state);
}

/** A key per notified change, so a change seen twice (event, then poll) notifies once. */
export function transitionKey(job: IJob, kind: Transition): string {
  return kind === 'fell_back'
    ? `${job.id}:fell_back:${fellBackCount(job)}`
    : `${job.id}:${kind}`;
}

/** Newest first: by submission time, then by id. */
export function sortNewestFirst(jobs: Iterable<IJob>): IJob[] {
  return [...jobs].sort((a, b) => {
    const ka = a.submitted ?? '';
    const kb = b.submitted ?? '';
    if (ka !== kb) {
      return ka < kb ? 1 : -1;
    }
    return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
  });
}

/**
 * Whether the job is the viewer's (in standalone mode every job is): a change of it is news
 * for the person looking at the panel, and theirs to cancel.
 */
export function concernsViewer(job: IJob, who: IWhoami | null): boolean {
  if (!who) {
    return false;
  }
  return who.mode === 'standalone' || job.owner === who.name;
}

export class JobsModel {
  private _jobs = new Map<string, IJob>();
  private _selected: string | null = null;
  private _sites: ISite[] = [];
  private _whoami: IWhoami | null = null;
  private _userFilter = '';
  private _connection: Connection = 'connecting';
  private _message = '';
  private _error = '';
  private _changed = new Signal<this, void>(this);
  private _transition = new Signal<this, ITransition>(this);
  private _notebooks = new Map<string, string>();
  private _notified = new Set<string>();
  private _notebookSaved = new Signal<this, { job: IJob; path: string }>(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted when a job of the viewer finishes, fails or falls back. */
  get transition(): ISignal<this, ITransition> {
    return this._transition;
  }

  /** Emitted when the executed notebook of one of the viewer's jobs has been saved. */
  get notebookSaved(): ISignal<this, { job: IJob; path: string }> {
    return this._notebookSaved;
  }

  /** Where the executed notebook of a notebook job was saved, once known. */
  executedNotebook(id: string): string | null {
    return this._notebooks.get(id) ?? null;
  }

  /**
   * Record the saved executed notebook: `announce` when it was just saved (an event), not
   * when reading the job finds it.
   */
  setExecutedNotebook(job: IJob, path: string, announce = true): void {
    if (this._notebooks.get(job.id) === path) {
      return;
    }
    this._notebooks.set(job.id, path);
    if (announce && concernsViewer(job, this._whoami)) {
      this._notebookSaved.emit({ job, path });
    }
    this._changed.emit();
  }

  get whoami(): IWhoami | null {
    return this._whoami;
  }

  get isAdmin(): boolean {
    return !!this._whoami?.admin;
  }

  get sites(): ISite[] {
    return this._sites;
  }

  get selectedId(): string | null {
    return this._selected;
  }

  get selected(): IJob | null {
    return this._selected ? (this._jobs.get(this._selected) ?? null) : null;
  }

  get userFilter(): string {
    return this._userFilter;
  }

  get connection(): Connection {
    return this._connection;
  }

  /** Why live updates stopped, or are degraded; empty when all is well. */
  get connectionMessage(): string {
    return this._message;
  }

  /** The last error of a panel-wide operation, in the server's words. */
  get error(): string {
    return this._error;
  }

  job(id: string): IJob | undefined {
    return this._jobs.get(id);
  }

  /** The jobs the list shows: newest first, only the filtered user's for admins. */
  visibleJobs(): IJob[] {
    const jobs = sortNewestFirst(this._jobs.values());
    if (this.isAdmin && this._userFilter) {
      return jobs.filter(job => job.owner === this._userFilter);
    }
    return jobs;
  }

  /** Every owner seen, for the admin's user filter. */
  owners(): string[] {
    return [...new Set([...this._jobs.values()].map(j => j.owner))].sort();
  }

  /** Apply one job's new view (from an event, a poll or an action); false if stale. */
  upsert(job: IJob): boolean {
    const applied = this._apply(job);
    if (applied) {
      this._changed.emit();
    }
    return applied;
  }

  /**
   * Merge a listing. When `complete` (the listing holds every job it could), jobs it no
   * longer has are dropped, among those the listing covers (`owner`, for a filtered one).
   */
  merge(jobs: IJob[], complete: boolean, owner: string | null = null): void {
    const seen = new Set<string>();
    for (const job of jobs) {
      seen.add(job.id);
      this._apply(job);
    }
    if (complete) {
      for (const [id, job] of this._jobs) {
        if (!seen.has(id) && (owner === null || job.owner === owner)) {
          this._jobs.delete(id);
        }
      }
    }
    this._changed.emit();
  }

  select(id: string | null): void {
    if (id !== this._selected) {
      this._selected = id;
      this._changed.emit();
    }
  }

  setSites(sites: ISite[]): void {
    this._sites = sites;
    this._changed.emit();
  }

  setWhoami(who: IWhoami): void {
    this._whoami = who;
    this._changed.emit();
  }

  setUserFilter(user: string): void {
    if (user !== this._userFilter) {
      this._userFilter = user;
      this._changed.emit();
    }
  }

  setConnection(connection: Connection, message = ''): void {
    if (connection !== this._connection || message !== this._message) {
      this._connection = connection;
      this._message = message;
      this._changed.emit();
    }
  }

  setError(message: string): void {
    if (message !== this._error) {
      this._error = message;
      this._changed.emit();
    }
  }

  /** Keep a job's new view unless it is stale, and notify its transition; false if stale. */
  private _apply(job: IJob): boolean {
    const previous = this._jobs.get(job.id);
    if (isStale(previous, job)) {
      return false;
    }
    this._jobs.set(job.id, job);
    this._notify(previous, job);
    return true;
  }

  private _notify(previous: IJob | undefined, job: IJob): void {
    const kind = transitionOf(previous, job);
    if (!kind || !concernsViewer(job, this._whoami)) {
      return;
    }
    const key = transitionKey(job, kind);
    if (!this._notified.has(key)) {
      this._notified.add(key);
      this._transition.emit({ job, kind });
    }
  }
}
