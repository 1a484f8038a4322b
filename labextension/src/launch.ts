/**
 * "Run as background job": which files qualify, the dialog's form and the request it makes.
 */
import { IJobRequest, IResources } from './api';

export type ScriptKind = 'notebook' | 'python' | 'shell';

const KINDS: [string, ScriptKind][] = [
  ['.ipynb', 'notebook'],
  ['.py', 'python'],
  ['.sh', 'shell']
];

/** What kind of job a file makes, or `null` when it cannot run as one. */
export function scriptKind(path: string | null | undefined): ScriptKind | null {
  if (!path) {
    return null;
  }
  const lower = path.toLowerCase();
  for (const [suffix, kind] of KINDS) {
    if (lower.endsWith(suffix)) {
      return kind;
    }
  }
  return null;
}

/** The dialog's fields, as the user types them. */
export interface ILaunchForm {
  cpu: string;
  memory: string;
  gpus: string;
  gpuModel: string;
  walltime: string;
  completions: string;
  localOnly: boolean;
  homeVolume: boolean;
}

/** Per-notebook hints under `metadata.aiinfn_hub` (any of the form's resource fields). */
export interface INotebookHints {
  resources?: IResources;
  walltime?: string;
  local_only?: boolean;
  staging?: 'ship' | 'home';
  completions?: number;
}

function text(value: unknown, fallback: string): string {
  if (value === undefined || value === null || value === '') {
    return fallback;
  }
  return String(value);
}

/** The form's starting values: the profile's defaults, overridden by the notebook's hints. */
export function formDefaults(
  defaults: IResources | null | undefined,
  hints: INotebookHints | null = null
): ILaunchForm {
  const base = defaults ?? {};
  const wanted = hints?.resources ?? {};
  return {
    cpu: text(wanted.cpu ?? base.cpu, '1'),
    memory: text(wanted.memory ?? base.memory, '2Gi'),
    gpus: text(wanted.gpus ?? base.gpus, '0'),
    gpuModel: text(wanted.gpu_model ?? base.gpu_model, ''),
    walltime: text(hints?.walltime, ''),
    completions: text(hints?.completions, '1'),
    localOnly: !!hints?.local_only,
    homeVolume: hints?.staging === 'home'
  };
}

/** Hints read from a notebook's metadata, ignoring anything malformed. */
export function notebookHints(metadata: unknown): INotebookHints | null {
  if (!metadata || typeof metadata !== 'object') {
    return null;
  }
  const hints = (metadata as Record<string, unknown>)['aiinfn_hub'];
  if (!hints || typeof hints !== 'object' || Array.isArray(hints)) {
    return null;
  }
  return hints as INotebookHints;
}

/** A whole number as a number; anything else unchanged, for the server to name the fix. */
function wholeNumber(value: string): number | string {
  const trimmed = value.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
}

/** The request for the server: the file, the resources and the placement wishes. */
export function buildRequest(
  path: string,
  form: ILaunchForm,
  extra: Partial<IJobRequest> = {}
): IJobRequest {
  const resources: IResources = {
    cpu: form.cpu.trim(),
    memory: form.memory.trim(),
    gpus: wholeNumber(form.gpus || '0') as number
  };
  if (form.gpuModel.trim()) {
    resources.gpu_model = form.gpuModel.trim();
  }
  const request: IJobRequest = { path, resources, ...extra };
  if (form.walltime.trim()) {
    request.walltime = form.walltime.trim();
  }
  if (form.localOnly) {
    request.local_only = true;
  }
  if (form.homeVolume) {
    request.staging = 'home';
  }
  const completions = wholeNumber(form.completions || '1');
  if (completions !== 1) {
    request.completions = completions as number;
    if (typeof completions === 'number') {
      request.parallelism = completions;
    }
  }
  return request;
}

/**
 * Runs async calls and keeps only the answer of the latest one: a placement preview that
 * arrives after the form changed again is dropped.
 */
export class Latest<T> {
  private _sequence = 0;

  /** Drop the answer of the call in flight, if any (its question no longer stands). */
  invalidate(): void {
    this._sequence += 1;
  }

  /** `{value}` or `{error}` of the call, or `null` when a later call has started since. */
  async run(call: () => Promise<T>): Promise<ILatestResult<T> | null> {
    const sequence = ++this._sequence;
    let result: ILatestResult<T>;
    try {
      result = { value: await call() };
    } catch (error) {
      result = { error };
    }
    return sequence === this._sequence ? result : null;
  }
}

export interface ILatestResult<T> {
  value?: T;
  error?: unknown;
}
