/**
 * The live tail of a job's log: fetched by byte offset so it resumes where it stopped,
 * per completion index of an array job, and only while someone is looking at it.
 */
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { errorMessage, ILogSlice, JobsClient } from './api';

/** Most characters kept on screen; older text is cut at a line start. */
export const MAX_LOG_CHARS = 200_000;

export interface ILogState {
  text: string;
  offset: number;
  eof: boolean;
  pod: string | null;
  message: string;
  /** Characters dropped from the start to stay under the limit. */
  truncated: boolean;
}

export const EMPTY_LOG: ILogState = {
  text: '',
  offset: 0,
  eof: false,
  pod: null,
  message: '',
  truncated: false
};

/**
 * The state after a slice. When the slice comes from another pod (a new attempt after a
 * fallback), the offset belonged to the old pod's log: `restart` asks to read the new one
 * from its start, and a separator line marks the change.
 */
export function applySlice(
  state: ILogState,
  slice: ILogSlice,
  maxChars = MAX_LOG_CHARS
): { state: ILogState; restart: boolean } {
  const pod = slice.pod ?? null;
  if (pod && state.pod && pod !== state.pod) {
    const marker = `\n----- next attempt: pod ${pod} -----\n`;
    return {
      state: {
        ...state,
        text: state.text + marker,
        offset: 0,
        pod,
        eof: false
      },
      restart: true
    };
  }
  let text = state.text + (slice.data ?? '');
  let truncated = state.truncated;
  if (text.length > maxChars) {
    const cut = text.length - maxChars;
    const newline = text.indexOf('\n', cut);
    text = text.slice(newline >= 0 ? newline + 1 : cut);
    truncated = true;
  }
  return {
    state: {
      text,
      offset: slice.next_offset ?? state.offset,
      eof: !!slice.eof,
      pod: pod ?? state.pod,
      message: slice.data ? '' : (slice.message ?? ''),
      truncated
    },
    restart: false
  };
}

export interface ILogTailOptions {
  client: JobsClient;
  jobId: string;
  completionIndex: number | null;
  /** Whether the log view can be seen (the panel is shown); polled at each tick. */
  isShown: () => boolean;
  /** Polling interval in ms (default 1.5 s). */
  interval?: number;
}

/** One log, kept across views so that reopening it resumes from its offset. */
export class LogTail implements IDisposable {
  private _state: ILogState = EMPTY_LOG;
  private _poll: Poll;
  private _watching = false;
  private _error = '';
  private _disposed = false;
  private _changed = new Signal<this, void>(this);

  constructor(private readonly _options: ILogTailOptions) {
    const interval = _options.interval ?? 1500;
    this._poll = new Poll({
      auto: false,
      factory: () => this.fetch(),
      frequency: { interval, backoff: true, max: 30_000 },
      standby: () =>
        !this._watching || this._state.eof || !this._options.isShown()
          ? true
          : 'when-hidden',
      name: `aiinfn-hub:log:${_options.jobId}`
    });
  }

  get state(): ILogState {
    return this._state;
  }

  /** The poll that follows the log (ticks in standby while not watched or shown). */
  get poll(): Poll {
    return this._poll;
  }

  get error(): string {
    return this._error;
  }

  get watching(): boolean {
    return this._watching;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Start or pause following the log (the log view shown or hidden). */
  setWatching(watching: boolean): void {
    if (this._disposed || watching === this._watching) {
      return;
    }
    this._watching = watching;
    if (watching) {
      void this._poll.start().then(() => this._poll.refresh());
    }
  }

  /** Read what is new since the last offset (twice when the pod changed). */
  async fetch(): Promise<void> {
    const { client, jobId, completionIndex } = this._options;
    try {
      for (let round = 0; round < 2; round++) {
        const slice = await client.log(
          jobId,
          this._state.offset,
          completionIndex
        );
        if (this._disposed) {
          return;
        }
        const { state, restart } = applySlice(this._state, slice);
        this._state = state;
        this._error = '';
        this._changed.emit();
        if (!restart) {
          break;
        }
      }
    } catch (error) {
      this._error = errorMessage(error);
      this._changed.emit();
      throw error;
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._poll.dispose();
    Signal.clearData(this);
  }
}

/** The tails of the logs opened in this session, by job and completion index. */
export class LogTails implements IDisposable {
  private _tails = new Map<string, LogTail>();
  private _disposed = false;

  constructor(
    private readonly _client: JobsClient,
    private readonly _isShown: () => boolean,
    private readonly _interval?: number
  ) {}

  get isDisposed(): boolean {
    return this._disposed;
  }

  get(jobId: string, completionIndex: number | null): LogTail {
    const key = `${jobId}:${completionIndex ?? ''}`;
    let tail = this._tails.get(key);
    if (!tail) {
      tail = new LogTail({
        client: this._client,
        jobId,
        completionIndex,
        isShown: this._isShown,
        interval: this._interval
      });
      this._tails.set(key, tail);
    }
    return tail;
  }

  /** Pause every tail (the server went away, or the panel closed). */
  pauseAll(): void {
    for (const tail of this._tails.values()) {
      tail.setWatching(false);
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    for (const tail of this._tails.values()) {
      tail.dispose();
    }
    this._tails.clear();
  }
}
