import { Event } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';

import { IJob, JOB_EVENT_SCHEMA } from '../src/api';
import { jobFromEvent, LiveUpdates, refreshAll } from '../src/live';
import { JobsModel } from '../src/model';
import { fakeServer, Handler, makeJob, waitFor } from './fixtures';

const WHOAMI = {
  name: 'alice',
  admin: false,
  mode: 'hub',
  defaults: {},
  settings: { max_staged_bytes: 921600, home_mount_path: '/home/jovyan' }
};

/** A server with these jobs; `mode` switches it between healthy, failing and gone. */
function server(jobs: IJob[]) {
  const state = { mode: 'ok' as 'ok' | 'error' | 'gone' };
  const handler: Handler = ({ path }) => {
    if (state.mode === 'gone') {
      return 'network-error';
    }
    if (state.mode === 'error') {
      return {
        status: 503,
        body: { error: 'the cluster does not answer', status: 503 }
      };
    }
    if (path === 'whoami') {
      return { status: 200, body: WHOAMI };
    }
    if (path === 'sites') {
      return { status: 200, body: { sites: [] } };
    }
    return {
      status: 200,
      body: { jobs, total: jobs.length, next_offset: null }
    };
  };
  return { ...fakeServer(handler), state };
}

class FakeEvents {
  readonly stream = new Signal<FakeEvents, Event.Emission>(this);
}

function live(
  options: Partial<ConstructorParameters<typeof LiveUpdates>[0]> &
    Pick<ConstructorParameters<typeof LiveUpdates>[0], 'client'>
) {
  const model = new JobsModel();
  const events = new FakeEvents();
  const updates = new LiveUpdates({
    model,
    events: events as unknown as Event.IManager,
    isVisible: () => true,
    interval: 20,
    maxInterval: 400,
    goneAfter: 3,
    ...options
  });
  return { model, events, updates };
}

describe('events', () => {
  it('reads our schema and ignores the rest', () => {
    const job = makeJob();
    expect(
      jobFromEvent({ schema_id: JOB_EVENT_SCHEMA, type: 'job', job } as any)
    ).toEqual({
      job,
      type: 'job',
      path: undefined
    });
    expect(
      jobFromEvent({
        schema_id: JOB_EVENT_SCHEMA,
        type: 'notebook',
        job,
        path: 'a.x.ipynb'
      } as any)?.path
    ).toBe('a.x.ipynb');
    expect(
      jobFromEvent({ schema_id: 'https://other/schema', job } as any)
    ).toBeNull();
    expect(
      jobFromEvent({ schema_id: JOB_EVENT_SCHEMA, job: 'nope' } as any)
    ).toBeNull();
  });
});

describe('LiveUpdates', () => {
  it('loads, then applies pushed events without waiting for a poll', async () => {
    const job = makeJob({ owner: 'alice' });
    const { client, requests } = server([job]);
    const { model, events, updates } = live({ client, interval: 60_000 });
    updates.start();
    await waitFor(() => model.job(job.id), 2000, 'the first listing');
    expect(model.connection).toBe('live');
    const polls = requests.length;
    const seen: string[] = [];
    model.transition.connect((_, t) => seen.push(t.kind));
    events.stream.emit({
      schema_id: JOB_EVENT_SCHEMA,
      type: 'job',
      job: { ...job, state: 'succeeded' }
    } as any);
    expect(model.job(job.id)?.state).toBe('succeeded');
    expect(seen).toEqual(['succeeded']);
    expect(requests.length).toBe(polls);
    updates.dispose();
  });

  it('backs off while the server errs, and recovers', async () => {
    const { client, state } = server([]);
    const { model, updates } = live({ client });
    state.mode = 'error';
    updates.start();
    const poll = updates.poll!;
    const intervals: number[] = [];
    poll.ticked.connect((_, tick) => {
      if (tick.phase === 'rejected') {
        intervals.push(tick.interval);
      }
    });
    await waitFor(() => intervals.length >= 4, 5000, 'four failed polls');
    // The wait grows beyond the base interval and stays under the maximum.
    expect(Math.max(...intervals)).toBeGreaterThan(20);
    expect(Math.max(...intervals)).toBeLessThanOrEqual(400);
    expect(model.connectionMessage).toBe(
      'Updates delayed, retrying: the cluster does not answer'
    );
    expect(updates.running).toBe(true);
    state.mode = 'ok';
    await waitFor(() => model.connection === 'live', 5000, 'recovery');
    expect(model.connectionMessage).toBe('');
    updates.dispose();
  });

  it('stands by while the panel is hidden', async () => {
    const { client, requests } = server([]);
    let visible = true;
    const { updates } = live({ client, isVisible: () => visible });
    updates.start();
    await waitFor(() => requests.length >= 3, 2000, 'polls while shown');
    visible = false;
    const phases: string[] = [];
    updates.poll!.ticked.connect((_, tick) => phases.push(tick.phase));
    await waitFor(() => phases.includes('standby'), 2000, 'standby');
    const count = requests.length;
    await waitFor(
      () => phases.filter(p => p === 'standby').length >= 3,
      2000,
      'more ticks'
    );
    expect(requests.length).toBe(count);
    visible = true;
    await waitFor(() => requests.length > count, 2000, 'polling again');
    updates.dispose();
  });

  it('stops cleanly when the server is gone, and restarts on request', async () => {
    const { client, requests, state } = server([]);
    const { model, events, updates } = live({ client });
    const reasons: string[] = [];
    updates.stopped.connect((_, reason) => reasons.push(reason));
    state.mode = 'gone';
    updates.start();
    await waitFor(() => reasons.length === 1, 5000, 'the stop');
    expect(updates.running).toBe(false);
    expect(model.connection).toBe('stopped');
    expect(model.connectionMessage).toMatch(
      /^Lost contact with the Jupyter server/
    );
    const after = requests.length;
    expect(after).toBe(3);
    // Nothing polls and events are no longer applied once stopped.
    const job = makeJob();
    events.stream.emit({
      schema_id: JOB_EVENT_SCHEMA,
      type: 'job',
      job
    } as any);
    expect(model.job(job.id)).toBeUndefined();

    state.mode = 'ok';
    updates.start();
    await waitFor(() => model.connection === 'live', 2000, 'reconnection');
    events.stream.emit({
      schema_id: JOB_EVENT_SCHEMA,
      type: 'job',
      job
    } as any);
    expect(model.job(job.id)).toBeDefined();
    updates.dispose();
  });

  it("stops at once on JupyterLab's connection failure", async () => {
    const { client } = server([]);
    const lost = new Signal<object, Error>({});
    const { model, updates } = live({
      client,
      connectionLost: lost,
      interval: 60_000
    });
    updates.start();
    await waitFor(() => model.connection === 'live', 2000, 'first load');
    lost.emit(new Error('the server closed the connection'));
    expect(updates.running).toBe(false);
    expect(model.connectionMessage).toContain(
      'the server closed the connection'
    );
    updates.dispose();
  });

  it('lists only the filtered user for admins', async () => {
    const { client, requests } = fakeServer(({ path }) => {
      if (path === 'whoami') {
        return { status: 200, body: { ...WHOAMI, admin: true } };
      }
      if (path === 'sites') {
        return { status: 200, body: { sites: [] } };
      }
      return { status: 200, body: { jobs: [], total: 0, next_offset: null } };
    });
    const model = new JobsModel();
    await refreshAll(model, client);
    model.setUserFilter('bob');
    await refreshAll(model, client);
    const lists = requests.filter(r => r.path === 'jobs');
    expect(lists[0].query.has('user')).toBe(false);
    expect(lists[1].query.get('user')).toBe('bob');
    expect(requests.filter(r => r.path === 'whoami')).toHaveLength(1);
  });
});
