/**
 * Pure formatting of jobs, attempts and sites for people: labels, times, progress.
 */
import type { ILogState } from './logtail';
import {
  AttemptOutcome,
  IAttempt,
  IJob,
  IKueueRaw,
  IPodRaw,
  IProgress,
  IQueueEstimate,
  ISite,
  JobState
} from './api';

/** Short badge labels of the known sites; others use the server's display name. */
export const SITE_BADGES: Record<string, string> = {
  leonardo: 'CINECA Leonardo',
  tier1: 'CNAF Tier-1',
  local: 'Local'
};

const STATE_LABELS: Record<JobState, string> = {
  queued: 'Queued',
  admitted: 'Admitted',
  running: 'Running',
  falling_back: 'Falling back',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled'
};

const OUTCOME_LABELS: Record<string, string> = {
  succeeded: 'succeeded',
  failed: 'failed',
  fell_back: 'fell back',
  cancelled: 'cancelled'
};

export const TERMINAL_STATES: ReadonlySet<JobState> = new Set([
  'succeeded',
  'failed',
  'cancelled'
]);

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.has(state);
}

export function stateLabel(state: JobState): string {
  return STATE_LABELS[state] ?? state;
}

/** The badge text and a CSS modifier for a site (`null`: not placed yet). */
export function siteBadge(
  site: string | null | undefined,
  display?: string | null
): { label: string; modifier: string } {
  if (!site) {
    return { label: 'Not placed', modifier: 'none' };
  }
  const label = SITE_BADGES[site] ?? display ?? site;
  const modifier = site in SITE_BADGES ? site : 'other';
  return { label, modifier };
}

export function siteName(
  site: ISite | { name: string; display_name?: string }
): string {
  return SITE_BADGES[site.name] ?? site.display_name ?? site.name;
}

/** `45s`, `3m 12s`, `1h 04m`, `2d 3h`; negative or unknown spans read `0s`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (days) {
    return `${days}d ${hours}h`;
  }
  if (hours) {
    return `${hours}h ${String(minutes).padStart(2, '0')}m`;
  }
  if (minutes) {
    return `${minutes}m ${String(seconds).padStart(2, '0')}s`;
  }
  return `${seconds}s`;
}

function parseTime(iso: string | null | undefined): number | null {
  if (!iso) {
    return null;
  }
  const value = Date.parse(iso);
  return Number.isNaN(value) ? null : value;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** A time of day (`14:03:09`), with the date when it is not the day of `now`. */
export function formatClock(
  iso: string | null | undefined,
  now: number
): string {
  const value = parseTime(iso);
  if (value === null) {
    return '-';
  }
  const at = new Date(value);
  const today = new Date(now);
  const clock = `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
  if (at.toDateString() === today.toDateString()) {
    return clock;
  }
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${clock}`;
}

/**
 * A degraded site in the panel's words, from its circuit breaker; empty while the breaker
 * is closed (or the service reports none). Open: new jobs skip the site until `retry_at`;
 * probing: the next job sent there tests it.
 */
export function breakerText(
  breaker: ISite['breaker'] | undefined,
  now: number
): string {
  if (!breaker || breaker.state === 'closed') {
    return '';
  }
  const why = breaker.reason ? `: ${breaker.reason}` : '';
  if (breaker.state === 'open') {
    return `Degraded${why}; new jobs skip it, retrying at ${formatClock(breaker.retry_at, now)}`;
  }
  return `Degraded${why}; the next job sent there tests it`;
}

/** Elapsed time of an active job, or its end time and run time once it ended. */
export function timeSummary(job: IJob, now: number): string {
  const submitted = parseTime(job.submitted);
  const started = parseTime(job.started) ?? submitted;
  if (isTerminal(job.state)) {
    const ended = parseTime(job.ended);
    if (ended === null) {
      return 'ended';
    }
    const took =
      started !== null ? `, took ${formatDuration(ended - started)}` : '';
    return `ended ${formatClock(job.ended, now)}${took}`;
  }
  if (job.state === 'running' && started !== null) {
    return `running for ${formatDuration(now - started)}`;
  }
  if (submitted !== null) {
    return `waiting for ${formatDuration(now - submitted)}`;
  }
  return '';
}

/** `3/10 done, 2 running, 1 failed` for array jobs; empty for single ones. */
export function progressText(progress: IProgress | undefined): string {
  const completions = progress?.completions ?? 1;
  if (!progress || completions <= 1) {
    return '';
  }
  const parts = [`${progress.succeeded ?? 0}/${completions} done`];
  if (progress.active) {
    parts.push(`${progress.active} running`);
  }
  if (progress.failed) {
    parts.push(`${progress.failed} failed`);
  }
  return parts.join(', ');
}

/** The fraction of an array job done, from 0 to 1 (`null` for single jobs). */
export function progressFraction(
  progress: IProgress | undefined
): number | null {
  const completions = progress?.completions ?? 1;
  if (!progress || completions <= 1) {
    return null;
  }
  return Math.min(1, (progress.succeeded ?? 0) / completions);
}

/** The one-line summary under a job: how it fell back, else where it stands. */
export function summaryLine(job: IJob): string {
  if (job.fallback) {
    return job.fallback;
  }
  return job.reason ?? '';
}

export function outcomeLabel(attempt: IAttempt): string {
  const outcome: AttemptOutcome | undefined = attempt.outcome;
  if (!outcome) {
    return 'in progress';
  }
  return OUTCOME_LABELS[outcome] ?? outcome;
}

/** Kueue's raw words for an attempt, e.g. `QuotaReserved=False: Pending: couldn't assign`. */
export function kueueText(kueue: IKueueRaw | undefined): string {
  if (!kueue || !Object.keys(kueue).length) {
    return '';
  }
  const head = kueue.condition
    ? `${kueue.condition}${kueue.status ? `=${kueue.status}` : ''}`
    : '';
  return [head, kueue.reason, kueue.message].filter(Boolean).join(': ');
}

/** The pod's raw failure, e.g. `pod p-1: ProviderFailed: schedd down (exit code 1)`. */
export function podText(pod: IPodRaw | null | undefined): string {
  if (!pod) {
    return '';
  }
  const words = [pod.reason, pod.message].filter(Boolean).join(': ');
  if (!words) {
    return '';
  }
  const code =
    pod.exitCode !== undefined && pod.exitCode !== null
      ? ` (exit code ${pod.exitCode})`
      : '';
  return `${pod.name ? `pod ${pod.name}: ` : ''}${words}${code}`;
}

/** `2 of 4 free` style capacity text; `none` when the site has none of it. */
export function capacityText(
  free: number,
  total: number,
  unit: string
): string {
  if (!total) {
    return `no ${unit}`;
  }
  return `${free} of ${total} ${unit} free`;
}

/** `no job waiting`, `1 job waiting`, `3 jobs waiting`. */
export function queueText(pending: number): string {
  if (!pending) {
    return 'no job waiting';
  }
  return `${pending} job${pending === 1 ? '' : 's'} waiting`;
}

/** A span of seconds in round words, as the jobs service writes it: `10 to 25 min`,
 * `3 h`, `1 to 3 days`. */
export function spanText(low: number, high: number): string {
  low = Math.max(low, 0);
  high = Math.max(high, 0);
  let [a, b, unit] = [
    Math.round(low / 86400),
    Math.round(high / 86400),
    'days'
  ];
  if (high < 5400) {
    [a, b, unit] = [
      Math.round(low / 60),
      Math.max(1, Math.round(high / 60)),
      'min'
    ];
  } else if (high < 2 * 86400) {
    [a, b, unit] = [Math.round(low / 3600), Math.round(high / 3600), 'h'];
  }
  return a === b ? `${b} ${unit}` : `${a} to ${b} ${unit}`;
}

/** When a job would start at a site, from its queue estimate, as of `now` (ms):
 * `expected to start in 10 to 25 min`, `... within a minute`, or that it cannot be told. */
export function startText(queue: IQueueEstimate, now: number): string {
  const start = queue.estimated_start;
  const earliest = parseTime(start?.earliest);
  const latest = parseTime(start?.latest);
  if (earliest === null || latest === null) {
    return 'no estimate of when it starts';
  }
  if (latest - now < 60_000) {
    return 'expected to start within a minute';
  }
  return `expected to start in ${spanText((earliest - now) / 1000, (latest - now) / 1000)}`;
}

/** Accessible name of a job row: everything the row shows, in one sentence. */
export function jobAriaLabel(job: IJob, now: number): string {
  const badge = siteBadge(job.site, job.site_display);
  const parts = [
    job.name,
    stateLabel(job.state),
    badge.label,
    timeSummary(job, now),
    progressText(job.progress),
    job.fallback ?? ''
  ];
  return parts.filter(Boolean).join(', ');
}

const VERDICT =
  /^(requires a GPU|no GPU|not offloadable|offloadable)\s*(:\s*|$)/i;

/**
 * Why the plan decided what it did, without the verdict it repeats (the label shows it):
 * `offloadable: needs no shared volume` -> `needs no shared volume`.
 */
export function detectedDetail(reason: string | undefined): string {
  return (reason ?? '').replace(VERDICT, '').trim();
}

/**
 * A site's GPUs for the overview: whole GPUs and MIG slices counted apart, e.g.
 * `["10 of 10 GPUs free", "7 of 7 MIG slices free"]`.
 */
export function gpuCapacity(site: ISite): string[] {
  const { gpus, models } = site.capacity;
  const slices = (models ?? []).filter(m => m.mig);
  if (!slices.length) {
    return [capacityText(gpus.free, gpus.total, 'GPUs')];
  }
  const sliceFree = slices.reduce((sum, m) => sum + m.free, 0);
  const sliceTotal = slices.reduce((sum, m) => sum + m.total, 0);
  const wholeTotal = Math.max(0, gpus.total - sliceTotal);
  const wholeFree = Math.max(0, gpus.free - sliceFree);
  const parts = wholeTotal ? [capacityText(wholeFree, wholeTotal, 'GPUs')] : [];
  parts.push(capacityText(sliceFree, sliceTotal, 'MIG slices'));
  return parts;
}

function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) {
    return '';
  }
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** The line under a job's log: where the log stands, in the words of the job's state. */
export function logNote(state: JobState, log: ILogState): string {
  if (log.eof) {
    return sentence(log.message) || 'End of log.';
  }
  if (log.text) {
    return 'Following the log.';
  }
  if (state === 'running') {
    return 'Running; waiting for its output.';
  }
  return sentence(log.message) || 'Waiting for output.';
}
