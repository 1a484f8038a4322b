import {
  capacityText,
  detectedDetail,
  formatClock,
  formatDuration,
  gpuCapacity,
  jobAriaLabel,
  kueueText,
  logNote,
  outcomeLabel,
  podText,
  progressFraction,
  progressText,
  queueText,
  siteBadge,
  stateLabel,
  summaryLine,
  timeSummary
} from '../src/format';
import { EMPTY_LOG } from '../src/logtail';
import { makeJob, makeSites } from './fixtures';

const NOW = Date.parse('2026-11-25T10:05:30Z');

describe('site badges', () => {
  it('names the three AI_INFN sites as users know them', () => {
    expect(siteBadge('leonardo', 'CINECA Leonardo').label).toBe(
      'CINECA Leonardo'
    );
    expect(siteBadge('tier1', 'CNAF Tier-1').label).toBe('CNAF Tier-1');
    expect(siteBadge('local', 'Local resources')).toEqual({
      label: 'Local',
      modifier: 'local'
    });
  });

  it("uses the server's display name for sites an admin added", () => {
    expect(siteBadge('recas', 'ReCaS Bari')).toEqual({
      label: 'ReCaS Bari',
      modifier: 'other'
    });
    expect(siteBadge('recas', null).label).toBe('recas');
  });

  it('says when a job has no site yet', () => {
    expect(siteBadge(null)).toEqual({ label: 'Not placed', modifier: 'none' });
  });
});

describe('durations and clocks', () => {
  it.each([
    [0, '0s'],
    [45_000, '45s'],
    [192_000, '3m 12s'],
    [3_840_000, '1h 04m'],
    [183_600_000, '2d 3h'],
    [-5_000, '0s']
  ])('%d ms reads %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('shows only the time for today and the date otherwise', () => {
    const today = new Date(NOW);
    const at = new Date(
      today.getFullYear(),
      today.getMonth(),
      today.getDate(),
      9,
      3,
      7
    );
    expect(formatClock(at.toISOString(), NOW)).toBe('09:03:07');
    const before = new Date(2026, 0, 2, 14, 0, 0);
    expect(formatClock(before.toISOString(), NOW)).toBe('2026-01-02 14:00:00');
    expect(formatClock(null, NOW)).toBe('-');
    expect(formatClock('not a date', NOW)).toBe('-');
  });
});

describe('time summary', () => {
  it('counts a running job from its start', () => {
    const job = makeJob({ state: 'running', started: '2026-11-25T10:02:00Z' });
    expect(timeSummary(job, NOW)).toBe('running for 3m 30s');
  });

  it('counts a queued job from its submission', () => {
    const job = makeJob({ state: 'queued', submitted: '2026-11-25T10:05:00Z' });
    expect(timeSummary(job, NOW)).toBe('waiting for 30s');
  });

  it('gives the end time and the run time of an ended job', () => {
    const job = makeJob({
      state: 'succeeded',
      started: '2026-11-25T10:00:00Z',
      ended: '2026-11-25T10:04:10Z'
    });
    expect(timeSummary(job, NOW)).toBe(
      `ended ${formatClock(job.ended, NOW)}, took 4m 10s`
    );
  });
});

describe('array progress', () => {
  it('is empty for single jobs', () => {
    expect(
      progressText({ completions: 1, succeeded: 1, failed: 0, active: 0 })
    ).toBe('');
    expect(
      progressFraction({
        completions: 1,
        succeeded: 0,
        failed: 0,
        active: 0
      })
    ).toBeNull();
  });

  it('counts done, running and failed completions', () => {
    const progress = { completions: 10, succeeded: 3, active: 2, failed: 1 };
    expect(progressText(progress)).toBe('3/10 done, 2 running, 1 failed');
    expect(progressFraction(progress)).toBeCloseTo(0.3);
  });
});

describe('job lines', () => {
  it('prefers the fallback summary to the status words', () => {
    const fell = makeJob({
      fallback:
        'CINECA Leonardo: not admitted within 10m, now on Local resources',
      reason: 'running at Local resources'
    });
    expect(summaryLine(fell)).toBe(fell.fallback);
    expect(summaryLine(makeJob({ reason: 'queued at CNAF Tier-1' }))).toBe(
      'queued at CNAF Tier-1'
    );
  });

  it('gives rows an accessible name with everything they show', () => {
    const job = makeJob({
      name: 'train.ipynb',
      state: 'running',
      started: '2026-11-25T10:05:00Z',
      fallback: 'CINECA Leonardo: down, now on Local resources',
      site: 'local',
      site_display: 'Local resources'
    });
    expect(jobAriaLabel(job, NOW)).toBe(
      'train.ipynb, Running, Local, running for 30s, CINECA Leonardo: down, now on Local resources'
    );
  });

  it('labels states and attempt outcomes in words', () => {
    expect(stateLabel('falling_back')).toBe('Falling back');
    expect(
      outcomeLabel({
        number: 1,
        site: 'tier1',
        reason: '',
        outcome: 'fell_back'
      })
    ).toBe('fell back');
    expect(
      outcomeLabel({ number: 2, site: 'local', reason: '', outcome: null })
    ).toBe('in progress');
  });

  it("shows Kueue's raw condition, reason and message", () => {
    expect(
      kueueText({
        condition: 'QuotaReserved',
        status: 'False',
        reason: 'Pending',
        message: "couldn't assign flavors"
      })
    ).toBe("QuotaReserved=False: Pending: couldn't assign flavors");
    expect(kueueText({ reason: 'ProviderFailed' })).toBe('ProviderFailed');
    expect(kueueText({})).toBe('');
    expect(kueueText(undefined)).toBe('');
  });

  it('words capacity and queues, including sites without a resource', () => {
    expect(capacityText(2, 4, 'GPUs')).toBe('2 of 4 GPUs free');
    expect(capacityText(0, 0, 'GPUs')).toBe('no GPUs');
    expect(queueText(0)).toBe('no job waiting');
    expect(queueText(1)).toBe('1 job waiting');
    expect(queueText(3)).toBe('3 jobs waiting');
  });
});

describe('raw pod failure', () => {
  it("shows the site's own reason and message for the pod", () => {
    expect(
      podText({
        name: 'p-1',
        reason: 'ProviderFailed',
        message: 'schedd down',
        exitCode: 1
      })
    ).toBe('pod p-1: ProviderFailed: schedd down (exit code 1)');
    expect(podText({ reason: 'Error: 404' })).toBe('Error: 404');
    expect(podText(null)).toBe('');
    expect(podText({ name: 'p-1' })).toBe('');
  });
});

describe('what the plan detected, said once', () => {
  it.each([
    [
      'offloadable: needs no shared volume and no inbound network',
      'needs no shared volume and no inbound network'
    ],
    ['not offloadable: reads your home volume', 'reads your home volume'],
    ['requires a GPU: asks for 1 GPU', 'asks for 1 GPU'],
    ['no GPU: asks for CPUs only', 'asks for CPUs only'],
    ['offloadable', ''],
    [undefined, ''],
    ['asks for the site you named', 'asks for the site you named']
  ])('%j -> %j', (reason, detail) => {
    expect(detectedDetail(reason)).toBe(detail);
  });
});

describe('the site overview counts MIG slices apart from whole GPUs', () => {
  it('splits a site with MIG slices', () => {
    const local = makeSites()[2];
    expect(gpuCapacity(local)).toEqual([
      '10 of 10 GPUs free',
      '5 of 7 MIG slices free'
    ]);
  });

  it('leaves a site without them as it was', () => {
    const [leonardo, tier1] = makeSites();
    expect(gpuCapacity(leonardo)).toEqual(['30 of 32 GPUs free']);
    expect(gpuCapacity(tier1)).toEqual(['no GPUs']);
  });

  it('shows only MIG slices when a site has nothing else', () => {
    const site = makeSites()[2];
    site.capacity.gpus = { free: 5, total: 7 };
    site.capacity.models = site.capacity.models!.filter(m => m.mig);
    expect(gpuCapacity(site)).toEqual(['5 of 7 MIG slices free']);
  });
});

describe('the note under the log', () => {
  const log = { ...EMPTY_LOG };

  it('says a running job without output is running and waiting for it', () => {
    expect(
      logNote('running', { ...log, message: 'the job has not started yet' })
    ).toBe('Running; waiting for its output.');
    expect(logNote('running', log)).toBe('Running; waiting for its output.');
  });

  it("gives the server's words before the job runs, and at the end", () => {
    expect(
      logNote('queued', { ...log, message: 'the job has not started yet' })
    ).toBe('The job has not started yet.');
    expect(logNote('admitted', log)).toBe('Waiting for output.');
    expect(logNote('succeeded', { ...log, eof: true })).toBe('End of log.');
    expect(
      logNote('failed', { ...log, eof: true, message: 'no log was kept' })
    ).toBe('No log was kept.');
    expect(logNote('running', { ...log, text: 'epoch 1\n' })).toBe(
      'Following the log.'
    );
  });
});
