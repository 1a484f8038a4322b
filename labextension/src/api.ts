/**
 * The server extension's REST API under `/aiinfn-hub/api/`, typed, with errors in the
 * server's own words.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { components, operations } from './openapi';

/** The Jupyter Server event-bus schema the server extension emits job changes with. */
export const JOB_EVENT_SCHEMA =
  'https://aiinfn.infn.it/schemas/aiinfn-hub/job-status/v1';

/*
 * The bodies of the API. The jobs service's own (every schema of
 * aiinfn_hub/jobs/openapi.yaml) come from src/openapi.d.ts, which `jlpm openapi:gen`
 * generates from that document; only what the server extension adds on its way through
 * (aiinfn_hub/serverext/handlers.py) is written here.
 */
type Schemas = components['schemas'];

/** The JSON body of an operation's response. */
type JsonOf<R> = R extends { content: { 'application/json': infer T } }
  ? T
  : never;

export type JobState = Schemas['State'];
export type AttemptOutcome = Schemas['Attempt']['outcome'];
export type ISiteReason = Schemas['SiteReason'];
export type IPlan = Schemas['Plan'];
/** A job's place in a site's queue and when it would start there. */
export type IQueueEstimate = Schemas['QueueEstimate'];
/** Kueue's own words for an attempt: the condition, its reason and message. */
export type IKueueRaw = NonNullable<Schemas['Attempt']['kueue']>;
/** The pod the site failed, with its own reason, message and exit code. */
export type IPodRaw = NonNullable<Schemas['Attempt']['pod']>;
export type IAttempt = Schemas['Attempt'];
export type IProgress = Schemas['Progress'];
export type IResources = NonNullable<Schemas['JobRequest']['resources']>;
export type ILogSlice = Schemas['LogChunk'];
export type ISite = Schemas['Site'];

/** A job; the server extension adds where a notebook job's executed notebook was saved. */
export type IJob = Schemas['Job'] & {
  /** For notebook jobs, where the executed notebook was saved (single-job reads only). */
  executed_notebook?: string | null;
};

/** A page of jobs; the server extension's carries the extension's job view. */
export type IJobList = Omit<
  JsonOf<operations['listJobs']['responses'][200]>,
  'jobs'
> & { jobs: IJob[] };

/** The service's answer, with what the server extension adds: its mode and the profile. */
export type IWhoami = JsonOf<operations['whoami']['responses'][200]> & {
  mode: string;
  defaults: IResources;
};

/**
 * What the panel sends to submit a file, or to preview its placement: the service's request
 * with a `path` to run instead of its `command` or `script`, which the server extension
 * builds from the file.
 */
export type IJobRequest = Omit<Schemas['JobRequest'], 'command' | 'script'> & {
  path: string;
  args?: string[];
  parameters?: Record<string, unknown>;
  /** `ship` (default): the file travels with the job; `home`: read in place (local only). */
  staging?: 'ship' | 'home';
};

type ListParameters = NonNullable<
  operations['listJobs']['parameters']['query']
>;

/** A listing's filters; empty ones (null, '') are left out of the URL. */
export type IListQuery = {
  [K in keyof ListParameters]?: ListParameters[K] | null;
};

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
