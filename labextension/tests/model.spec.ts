import { IJob, IWhoami } from '../src/api';
import {
  concernsViewer,
  isStale,
  ITransition,
  JobsModel,
  sortNewestFirst,
  transitionOf
} from '../src/model';
import { makeJob } from './fixtures';

const SETTINGS = { max_staged_bytes: 921600, home_mount_path: '/home/jovyan' };
const ALICE: IWhoami = {
  name: 'alice',
  admin: false,
  mode: 'hub',
  defaults: {},
  settings: SETTINGS
};
const ADMIN: IWhoami = {
  name: 'root',
  admin: true,
  mode: 'hub',
  defaults: {},
  settings: SETTINGS
};

function fellBack(job: IJob): IJob {
  return {
    ...job,
    state: 'running',
    site: 'local',
    attempts: [
      {
        number: 1,
        site: 'leonardo',
        reason: 'not admitted within 10m',
        outcome: 'fell_back'
      },
      {
        number: 2,
        site: 'local',
        reason: 'running at Local resources',
        outcome: null
      }
    ],
    fallback: 'CINECA Leonardo: not admitted within 10m, now on Local resources'
  };
}

describe('transitions', () => {
  const queued = makeJob();

  it('reports finishing, failing and falling back', () => {
    expect(transitionOf(queued, { ...queued, state: 'succeeded' })).toBe(
      'succeeded'
    );
    expect(transitionOf(queued, { ...queued, state: 'failed' })).toBe('failed');
    expect(transitionOf(queued, fellBack(queued))).toBe('fell_back');
  });

  it('stays quiet for jobs seen for the first time, repeats and cancellations', () => {
    expect(
      transitionOf(undefined, { ...queued, state: 'succeeded' })
    ).toBeNull();
    expect(transitionOf(queued, { ...queued })).toBeNull();
    expect(transitionOf(queued, { ...queued, state: 'running' })).toBeNull();
    expect(transitionOf(queued, { ...queued, state: 'cancelled' })).toBeNull();
    const done = { ...queued, state: 'succeeded' as const };
    expect(transitionOf(done, { ...done })).toBeNull();
  });
});

describe('staleness', () => {
  it('drops a view older than the one shown', () => {
    const job = makeJob({ state: 'running' });
    const ended = { ...job, state: 'succeeded' as const };
    expect(isStale(ended, job)).toBe(true);
    expect(isStale(job, ended)).toBe(false);
    expect(isStale(undefined, job)).toBe(false);
    // A cancelled job may list fewer attempts than it had while running.
    expect(
      isStale(fellBack(job), { ...job, state: 'cancelled', attempts: [] })
    ).toBe(false);
  });
});

describe('ordering', () => {
  it('puts the newest first, by submission then id', () => {
    const a = makeJob({ id: 'aaaa', submitted: '2026-11-25T10:00:00Z' });
    const b = makeJob({ id: 'bbbb', submitted: '2026-11-25T11:00:00Z' });
    const c = makeJob({ id: 'cccc', submitted: '2026-11-25T10:00:00Z' });
    expect(sortNewestFirst([a, b, c]).map(j => j.id)).toEqual([
      'bbbb',
      'cccc',
      'aaaa'
    ]);
  });
});

describe('JobsModel', () => {
  function model(who: IWhoami = ALICE): {
    model: JobsModel;
    seen: ITransition[];
  } {
    const m = new JobsModel();
    m.setWhoami(who);
    const seen: ITransition[] = [];
    m.transition.connect((_, t) => seen.push(t));
    return { model: m, seen };
  }

  it('applies events and notifies on transitions of the viewer’s jobs only', () => {
    const { model: m, seen } = model();
    const mine = makeJob({ owner: 'alice' });
    const theirs = makeJob({ owner: 'bob' });
    m.upsert(mine);
    m.upsert(theirs);
    m.upsert({ ...mine, state: 'succeeded' });
    m.upsert({ ...theirs, state: 'failed' });
    expect(seen.map(t => [t.job.id, t.kind])).toEqual([[mine.id, 'succeeded']]);
    expect(m.job(mine.id)?.state).toBe('succeeded');
  });

  it('ignores a stale event that arrives after a newer view', () => {
    const { model: m } = model();
    const job = makeJob({ state: 'running' });
    m.upsert({ ...job, state: 'succeeded' });
    expect(m.upsert(job)).toBe(false);
    expect(m.job(job.id)?.state).toBe('succeeded');
  });

  it('notifies a change once, even when a stale poll comes between two events', () => {
    const { model: m, seen } = model();
    const job = makeJob({ owner: 'alice', state: 'running' });
    m.upsert(job);
    m.upsert(fellBack(job));
    m.merge([job], false);
    m.upsert(fellBack(job));
    expect(seen.map(t => t.kind)).toEqual(['fell_back']);
  });

  it('merges a complete listing: adds, updates and drops jobs no longer listed', () => {
    const { model: m, seen } = model();
    const kept = makeJob();
    const gone = makeJob();
    m.merge([kept, gone], true);
    const fresh = makeJob({ submitted: '2026-11-25T12:00:00Z' });
    m.merge([fresh, { ...kept, state: 'failed' }], true);
    expect(m.visibleJobs().map(j => j.id)).toEqual([fresh.id, kept.id]);
    expect(seen.map(t => t.kind)).toEqual(['failed']);
  });

  it('keeps jobs an incomplete listing does not cover', () => {
    const { model: m } = model();
    const old = makeJob();
    m.merge([old], true);
    m.merge([makeJob()], false);
    expect(m.job(old.id)).toBeDefined();
  });

  it('filters by user for admins, and drops only that user’s unlisted jobs', () => {
    const { model: m } = model(ADMIN);
    const alice = makeJob({ owner: 'alice' });
    const bob = makeJob({ owner: 'bob' });
    m.merge([alice, bob], true);
    expect(m.owners()).toEqual(['alice', 'bob']);
    m.setUserFilter('bob');
    expect(m.visibleJobs().map(j => j.owner)).toEqual(['bob']);
    m.merge([], true, 'bob');
    expect(m.job(bob.id)).toBeUndefined();
    expect(m.job(alice.id)).toBeDefined();
  });

  it('does not filter for people who are not admins', () => {
    const { model: m } = model(ALICE);
    m.merge([makeJob({ owner: 'alice' })], true);
    m.setUserFilter('bob');
    expect(m.visibleJobs()).toHaveLength(1);
  });

  it('selects a job and records its executed notebook, announcing only fresh ones', () => {
    const { model: m } = model();
    const job = makeJob({ owner: 'alice' });
    m.upsert(job);
    m.select(job.id);
    expect(m.selected?.id).toBe(job.id);
    const announced: string[] = [];
    m.notebookSaved.connect((_, { path }) => announced.push(path));
    m.setExecutedNotebook(job, 'old.abc.ipynb', false);
    m.setExecutedNotebook(job, 'train.abc.ipynb');
    m.setExecutedNotebook(job, 'train.abc.ipynb');
    expect(announced).toEqual(['train.abc.ipynb']);
    expect(m.executedNotebook(job.id)).toBe('train.abc.ipynb');
  });

  it('counts every job as the viewer’s in standalone mode', () => {
    const job = makeJob({ owner: 'someone' });
    expect(concernsViewer(job, { ...ALICE, mode: 'standalone' })).toBe(true);
    expect(concernsViewer(job, ALICE)).toBe(false);
    expect(concernsViewer(job, null)).toBe(false);
  });
});
