/**
 * The server extension's REST API under `/aiinfn-hub/api/`, typed, with errors in the
 * server's own words.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** The Jupyter Server event-bus schema the server extension emits job changes with. */
export const JOB_EVENT_SCHEMA =
  'https://aiinfn.infn.it/schemas/aiinfn-hub/job-status/v1';

export type JobState =
  | 'queued'
  | 'admitted'
  | 'running'
  | 'falling_back'
  | 'succeeded'
  | 'failed'
  | 'cancelled';

export type AttemptOutcome =
  'succeeded' | 'failed' | 'fell_back' | 'cancelled' | null;

export interface ISiteReason {
  name: string;
  display_name?: string;
  reason: string;
}

export interface IPlan {
  requires_gpu: boolean;
  offloadable: boolean;
  reasons?: { requires_gpu?: string; offloadable?: string };
  sites: ISiteReason[];
  ruled_out: ISiteReason[];
}

/** Kueue's own words for an attempt: the condition, its reason and message. */
export interface IKueueRaw {
  condition?: string;
  status?: string;
  reason?: string;
  message?: string;
}

export interface IAttempt {
  number: number;
  site: string;
  site_display?: string;
  started?: string | null;
  ended?: string | null;
  outcome?: AttemptOutcome;
  reason: string;
  kueue?: IKueueRaw;
  remote_job_id?: string | null;
  /** The pod, and for a failure the site gave it, the pod's own reason and message. */
  pod?: string | IPodRaw | null;
}

export interface IPodRaw {
  name?: string;
  reason?: string;
  message?: string;
  exitCode?: number | null;
}

export interface IProgress {
  completions?: number;
  succeeded?: number;
  failed?: number;
  active?: number;
}

export interface IResources {
  cpu?: string | number;
  memory?: string | number;
  gpus?: number;
  gpu_model?: string | null;
}

export interface IJob {
  id: string;
  name: string;
  owner: string;
  state: JobState;
  site?: string | null;
  site_display?: string | null;
  reason?: string;
  submitted?: string | null;
  started?: string | null;
  ended?: string | null;
  plan: IPlan;
  attempts: IAttempt[];
  fallback?: string;
  progress: IProgress;
  /** For notebook jobs, where the executed notebook was saved (single-job reads only). */
  executed_notebook?: string | null;
  spec?: {
    resources?: IResources;
    completions?: number;
    script?: { path?: string; kind?: string };
    [key: string]: unknown;
  };
}

export interface IJobList {
  jobs: IJob[];
  total: number;
  next_offset?: number | null;
}

export interface ILogSlice {
  data: string;
  next_offset: number;
  eof: boolean;
  pod?: string | null;
  message?: string;
}

export interface ISite {
  name: string;
  display_name: string;
  kind: string;
  summary?: string;
  health: { usable: boolean; state: string };
  capacity: {
    gpus: { total: number; free: number };
    cpu: { total: number; free: number };
  };
  queue: { pending: number; reasons: string[] };
  gpu_models?: string[];
}

export interface IWhoami {
  name: string;
  admin: boolean;
  mode: string;
  defaults: IResources;
}

/** What the panel sends to submit a file, or to preview its placement. */
export interface IJobRequest {
  path: string;
  name?: string;
  resources?: IResources;
  walltime?: string | null;
  local_only?: boolean;
  /** `ship` (default): the file travels with the job; `home`: read in place (local only). */
  staging?: 'ship' | 'home';
  completions?: number;
  parallelism?: number;
  site?: string | null;
  client_request_id?: string;
}

export interface IListQuery {
  user?: string | null;
  state?: string | null;
  site?: string | null;
  limit?: number;
  offset?: number;
}

/**
 * A failed call. `message` is the server's `error` text as it wrote it; `status` is 0 when
 * the server could not be reached at all.
 */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly field: string | null = null,
    readonly fromExtension = false
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /**
   * True when the Jupyter server itself is gone (unreachable, or stopped behind the hub),
   * as opposed to the jobs API answering with an error of its own.
   */
  get serverGone(): boolean {
    if (this.status === 0 || this.status === 424) {
      return true;
    }
    return !this.fromExtension && [404, 502, 503, 504].includes(this.status);
  }
}

/** The words of a thrown value: an Error's message (for an ApiError, the server's). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Reads the error text from a response body the way the server extension writes it. */
export function errorFromBody(status: number, body: unknown): ApiError {
  if (body && typeof body === 'object') {
    const data = body as {
      error?: unknown;
      message?: unknown;
      field?: unknown;
    };
    if (typeof data.error === 'string' && data.error) {
      const field = typeof data.field === 'string' ? data.field : null;
      return new ApiError(data.error, status, field, true);
    }
    if (typeof data.message === 'string' && data.message) {
      return new ApiError(data.message, status);
    }
  }
  if (status === 404) {
    return new ApiError(
      'The background-jobs API is not available on this server: the aiinfn_hub server ' +
        'extension is not enabled (see `jupyter server extension list`).',
      status
    );
  }
  const text =
    typeof body === 'string' && body.trim() ? `: ${body.trim()}` : '';
  return new ApiError(
    `The server answered ${status}${text}`.slice(0, 300),
    status
  );
}

/** The jobs API of the Jupyter server the page came from. */
export class JobsClient {
  constructor(readonly serverSettings: ServerConnection.ISettings) {}

  /** The URL of an API path, with the query's non-empty values. */
  url(path: string, query: Record<string, unknown> = {}): string {
    const base = URLExt.join(
      this.serverSettings.baseUrl,
      'aiinfn-hub',
      'api',
      path
    );
    const params = Object.entries(query)
      .filter(
        ([, value]) => value !== undefined && value !== null && value !== ''
      )
      .map(
        ([key, value]) =>
          `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`
      );
    return params.length ? `${base}?${params.join('&')}` : base;
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    query: Record<string, unknown> = {}
  ): Promise<T> {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        this.url(path, query),
        init,
        this.serverSettings
      );
    } catch (error) {
      const why = errorMessage(error);
      throw new ApiError(`The Jupyter server cannot be reached (${why}).`, 0);
    }
    const text = await response.text();
    let data: unknown = text;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON: a proxy's or the hub's page; keep the text for the message.
    }
    if (!response.ok) {
      throw errorFromBody(response.status, data);
    }
    return data as T;
  }

  listJobs(query: IListQuery = {}): Promise<IJobList> {
    return this.request<IJobList>('GET', 'jobs', undefined, {
      limit: 200,
      ...query
    });
  }

  getJob(id: string): Promise<IJob> {
    return this.request<IJob>('GET', `jobs/${encodeURIComponent(id)}`);
  }

  cancel(id: string): Promise<IJob> {
    return this.request<IJob>('DELETE', `jobs/${encodeURIComponent(id)}`);
  }

  rerun(id: string, site: string | null = null): Promise<IJob> {
    return this.request<IJob>(
      'POST',
      `jobs/${encodeURIComponent(id)}/rerun`,
      site ? { site } : {}
    );
  }

  log(
    id: string,
    offset: number,
    completionIndex: number | null = null
  ): Promise<ILogSlice> {
    return this.request<ILogSlice>(
      'GET',
      `jobs/${encodeURIComponent(id)}/log`,
      undefined,
      { offset, completion_index: completionIndex }
    );
  }

  plan(request: IJobRequest): Promise<IPlan> {
    return this.request<IPlan>('POST', 'plan', request);
  }

  submit(request: IJobRequest): Promise<IJob> {
    return this.request<IJob>('POST', 'jobs', request);
  }

  async sites(): Promise<ISite[]> {
    const data = await this.request<{ sites: ISite[] }>('GET', 'sites');
    return data.sites ?? [];
  }

  whoami(): Promise<IWhoami> {
    return this.request<IWhoami>('GET', 'whoami');
  }
}
