/**
 * The launch dialog's checks, field by field as the user types, in the words of each
 * field's label; the limits come from the sites (what the largest one gives one job).
 */
import { ISite } from './api';
import { ILaunchForm } from './launch';
import {
  formatMemory,
  formatSeconds,
  parseCpu,
  parseDuration,
  parseMemory
} from './quantities';

/** The form's text fields and choices, which can be wrong. */
export type FieldName =
  'cpu' | 'memory' | 'gpus' | 'gpuModel' | 'walltime' | 'completions';

/** What the screen calls each field. */
export const LABELS: Record<FieldName, string> = {
  cpu: 'CPUs',
  memory: 'Memory',
  gpus: 'GPUs',
  gpuModel: 'GPU model',
  walltime: 'Time limit',
  completions: 'Array size'
};

/** What is wrong with each field that is wrong. */
export type FormErrors = Partial<Record<FieldName, string>>;

/** The most indexes of an array job (JobRequest.completions in openapi.yaml). */
export const MAX_COMPLETIONS = 1000;

export type IGpuModel = NonNullable<ISite['capacity']['models']>[number];

/** A GPU model the dialog offers: what all sites have of it, and what is free. */
export interface IGpuChoice {
  model: string;
  free: number;
  total: number;
  mig: boolean;
  /** e.g. `A100: 36 of 36 free`, `A100-MIG-1g.10gb (MIG slices): 7 of 7 free`. */
  label: string;
}

/** The GPU models the sites have, with what is free of each across sites. */
export function gpuChoices(sites: ISite[]): IGpuChoice[] {
  const found = new Map<string, IGpuChoice>();
  for (const site of sites) {
    const models = site.capacity.models;
    const counted: IGpuModel[] =
      models ??
      (site.gpu_models ?? []).map(model => ({
        model,
        free: NaN,
        total: NaN,
        per_job: NaN,
        mig: false
      }));
    for (const entry of counted) {
      const choice = found.get(entry.model) ?? {
        model: entry.model,
        free: 0,
        total: 0,
        mig: entry.mig,
        label: ''
      };
      choice.free += entry.free;
      choice.total += entry.total;
      found.set(entry.model, choice);
    }
  }
  return [...found.values()].map(choice => {
    const kind = choice.mig ? ' (MIG slices)' : '';
    const counts = Number.isNaN(choice.total)
      ? ''
      : `: ${choice.free} of ${choice.total} free`;
    return { ...choice, label: `${choice.model}${kind}${counts}` };
  });
}

/** The sites' name for a model, matched as the server does (case-insensitively). */
export function canonicalModel(model: string, sites: ISite[]): string {
  const wanted = model.trim().toLowerCase();
  const known = gpuChoices(sites).find(c => c.model.toLowerCase() === wanted);
  return known ? known.model : model.trim();
}

function siteModels(site: ISite): IGpuModel[] {
  return site.capacity.models ?? [];
}

function keptLocal(form: ILaunchForm): boolean {
  return form.localOnly || form.homeVolume;
}

/** Where the job may go, as far as the form says: local only, or sites with its GPUs. */
function candidates(
  sites: ISite[],
  form: ILaunchForm,
  gpus: number,
  model: string
): ISite[] {
  return sites.filter(
    site =>
      (!keptLocal(form) || site.kind === 'local') &&
      (gpus === 0 ||
        siteModels(site).some(m => !model || m.model === model) ||
        (!site.capacity.models && site.capacity.gpus.total > 0))
  );
}

/** `the largest site, X,` or `the only site for this job, X,`. */
function whichSite(site: ISite, count: number): string {
  const name = site.display_name || site.name;
  return count === 1
    ? `the only site for this job, ${name},`
    : `the largest site, ${name},`;
}

/**
 * The site that gives one job the most of something, and how much; `null` when any site
 * does not say (an older server), or none is left.
 */
function largest(
  sites: ISite[],
  amount: (site: ISite) => number | null | undefined
): { site: ISite; value: number } | null {
  let best: { site: ISite; value: number } | null = null;
  for (const site of sites) {
    const value = amount(site);
    if (value === undefined) {
      return null;
    }
    if (value === null) {
      return null; // no limit at this site
    }
    if (!best || value > best.value) {
      best = { site, value };
    }
  }
  return best;
}

function checkGpus(
  form: ILaunchForm,
  sites: ISite[],
  errors: FormErrors
): { gpus: number; model: string } {
  const text = form.gpus.trim();
  const gpus = /^\d+$/.test(text) ? Number(text) : NaN;
  const model = form.gpuModel ? canonicalModel(form.gpuModel, sites) : '';
  if (Number.isNaN(gpus)) {
    errors.gpus = 'GPUs must be a whole number: 0 for none, or 1 or more';
    return { gpus: 0, model };
  }
  const local = keptLocal(form);
  if (model) {
    if (gpus === 0) {
      errors.gpuModel =
        'GPU model: set GPUs to 1 or more to ask for a model, or choose any';
    } else if (
      sites.some(s => s.capacity.models) &&
      !candidates(sites, form, 1, model).length
    ) {
      errors.gpuModel = local
        ? `GPU model: the local resources have no ${model} GPUs`
        : `GPU model: no site has ${model} GPUs`;
      return { gpus, model };
    }
  }
  if (gpus === 0 || !sites.length) {
    return { gpus, model };
  }
  const able = candidates(sites, form, gpus, model);
  if (!able.length) {
    errors.gpus = local
      ? 'GPUs: the local resources have no GPUs'
      : 'GPUs: no site has GPUs';
    return { gpus, model };
  }
  const best = largest(able, site => {
    if (!site.capacity.models) {
      return undefined;
    }
    const counts = siteModels(site)
      .filter(m => !model || m.model === model)
      .map(m => m.per_job);
    return Math.max(...counts);
  });
  if (best && gpus > best.value) {
    const pool = siteModels(best.site).find(
      m => m.per_job === best.value && (!model || m.model === model)
    );
    errors.gpus =
      `GPUs: ${whichSite(best.site, able.length)} offers at most ` +
      `${best.value} ${pool!.model} ${pool!.mig ? 'MIG slices' : 'GPUs'} to one job`;
  }
  return { gpus, model };
}

function checkAmount(
  field: 'cpu' | 'memory' | 'walltime',
  value: number,
  able: ISite[],
  errors: FormErrors
): void {
  const best = largest(able, site => {
    const limits = site.capacity.per_job;
    if (!limits) {
      return undefined;
    }
    return limits[field];
  });
  if (!best || value <= best.value) {
    return;
  }
  const which = whichSite(best.site, able.length);
  if (field === 'cpu') {
    errors.cpu = `CPUs: ${which} offers at most ${best.value} CPUs to one job`;
  } else if (field === 'memory') {
    errors.memory = `Memory: ${which} offers at most ${formatMemory(best.value)} to one job`;
  } else {
    const longest =
      able.length === 1
        ? which
        : `the site with the longest limit, ${best.site.display_name || best.site.name},`;
    errors.walltime = `Time limit: ${longest} allows at most ${formatSeconds(best.value)} for one job`;
  }
}

/**
 * What is wrong with each field, in the words of its label; empty when the form can be
 * sent. `sites` (from `/sites`) give the limits; with none known only the forms are checked.
 */
export function validateForm(form: ILaunchForm, sites: ISite[]): FormErrors {
  const errors: FormErrors = {};
  const { gpus, model } = checkGpus(form, sites, errors);
  const able = candidates(sites, form, gpus, model);
  const cpu = parseCpu(form.cpu);
  if (cpu === null || cpu <= 0) {
    errors.cpu = 'CPUs must be a number of cores, such as 2, 0.5 or 500m';
  } else {
    checkAmount('cpu', cpu, able, errors);
  }
  const memory = parseMemory(form.memory);
  if (memory === null || memory <= 0) {
    errors.memory = 'Memory must be a size, such as 8Gi, 512Mi or 4G';
  } else {
    checkAmount('memory', memory, able, errors);
  }
  if (form.walltime.trim()) {
    const walltime = parseDuration(form.walltime);
    if (walltime === null || walltime <= 0) {
      errors.walltime =
        "Time limit must be a duration, such as 90s, 30m, 2h, 1d or 1h30m, or empty for the site's limit";
    } else {
      checkAmount('walltime', walltime, able, errors);
    }
  }
  const completions = form.completions.trim() || '1';
  if (
    !/^\d+$/.test(completions) ||
    Number(completions) < 1 ||
    Number(completions) > MAX_COMPLETIONS
  ) {
    errors.completions = `Array size must be a whole number from 1 to ${MAX_COMPLETIONS}`;
  }
  return errors;
}

/** Whether the form has nothing wrong. */
export function isValid(errors: FormErrors): boolean {
  return Object.keys(errors).length === 0;
}
