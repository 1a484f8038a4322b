import { ILogSlice } from '../src/api';
import { applySlice, EMPTY_LOG, LogTail, LogTails } from '../src/logtail';
import { fakeServer, waitFor } from './fixtures';

describe('applySlice', () => {
  it('appends and moves the offset', () => {
    const first = applySlice(EMPTY_LOG, {
      data: 'a\nb\n',
      next_offset: 4,
      eof: false,
      pod: 'p1'
    });
    expect(first.restart).toBe(false);
    expect(first.state).toMatchObject({
      text: 'a\nb\n',
      offset: 4,
      pod: 'p1',
      eof: false
    });
    const second = applySlice(first.state, {
      data: 'c\n',
      next_offset: 6,
      eof: true,
      pod: 'p1'
    });
    expect(second.state).toMatchObject({
      text: 'a\nb\nc\n',
      offset: 6,
      eof: true
    });
  });

  it('keeps the message while nothing has been written', () => {
    const { state } = applySlice(EMPTY_LOG, {
      data: '',
      next_offset: 0,
      eof: false,
      message: 'the job has not started yet'
    });
    expect(state.message).toBe('the job has not started yet');
  });

  it('drops the message once the server no longer gives it (the pod started)', () => {
    const waiting = applySlice(EMPTY_LOG, {
      data: '',
      next_offset: 0,
      eof: false,
      message: 'the job has not started yet'
    }).state;
    const { state } = applySlice(waiting, {
      data: '',
      next_offset: 0,
      eof: false,
      pod: 'p1'
    });
    expect(state.message).toBe('');
  });

  it('restarts from zero when a new attempt has a new pod', () => {
    const before = { ...EMPTY_LOG, text: 'old\n', offset: 4, pod: 'tier1-pod' };
    const { state, restart } = applySlice(before, {
      data: 'ignored',
      next_offset: 11,
      eof: false,
      pod: 'local-pod'
    });
    expect(restart).toBe(true);
    expect(state.offset).toBe(0);
    expect(state.pod).toBe('local-pod');
    expect(state.text).toBe('old\n\n----- next attempt: pod local-pod -----\n');
  });

  it('cuts old lines beyond the limit at a line start', () => {
    const { state } = applySlice(
      { ...EMPTY_LOG, text: 'line one\nline two\n' },
      { data: 'line three\n', next_offset: 30, eof: false },
      20
    );
    expect(state.text).toBe('line three\n');
    expect(state.truncated).toBe(true);
  });
});

/** Counts the tail's poll ticks in standby from now on. */
function standbyTicks(tail: LogTail): { count: number } {
  const counter = { count: 0 };
  tail.poll.ticked.connect((_, tick) => {
    if (tick.phase === 'standby') {
      counter.count += 1;
    }
  });
  return counter;
}

describe('LogTail', () => {
  function logServer(slices: ILogSlice[]) {
    return fakeServer(({ query }) => {
      const offset = Number(query.get('offset'));
      const slice = slices.find(s => s.next_offset > offset) ?? {
        data: '',
        next_offset: offset,
        eof: true
      };
      return { status: 200, body: slice };
    });
  }

  it('follows only while watched and shown, resuming from its offset', async () => {
    const { client, requests } = logServer([
      { data: 'one\n', next_offset: 4, eof: false, pod: 'p' },
      { data: 'two\n', next_offset: 8, eof: false, pod: 'p' }
    ]);
    let shown = true;
    const tails = new LogTails(client, () => shown, 10);
    const tail = tails.get('abc', null);
    expect(tails.get('abc', null)).toBe(tail);
    expect(requests).toHaveLength(0);
    tail.setWatching(true);
    await waitFor(() => tail.state.text === 'one\ntwo\n', 2000, 'the log');
    const offsets = requests.map(r => r.query.get('offset'));
    expect(offsets.slice(0, 2)).toEqual(['0', '4']);

    // Not watched (the detail view closed): the poll stands by and reads nothing.
    tail.setWatching(false);
    const standby = standbyTicks(tail);
    await waitFor(() => standby.count >= 3, 2000, 'ticks in standby');
    const count = requests.length;
    await waitFor(() => standby.count >= 6, 2000, 'more ticks in standby');
    expect(requests.length).toBe(count);
    // Watched again while the panel is hidden: still nothing.
    shown = false;
    tail.setWatching(true);
    const hidden = standbyTicks(tail);
    await waitFor(() => hidden.count >= 3, 2000, 'ticks while hidden');
    expect(requests.length).toBe(count);
    shown = true;
    await waitFor(() => requests.length > count, 2000, 'polling again');
    // It resumes from where it stopped.
    expect(requests[requests.length - 1].query.get('offset')).toBe('8');
    expect(tail.state.text).toBe('one\ntwo\n');
    tails.dispose();
    expect(tail.isDisposed).toBe(true);
  });

  it('stops at the end of the log', async () => {
    const { client, requests } = logServer([
      { data: 'all\n', next_offset: 4, eof: true, pod: 'p' }
    ]);
    const tail = new LogTail({
      client,
      jobId: 'abc',
      completionIndex: 2,
      isShown: () => true,
      interval: 5
    });
    tail.setWatching(true);
    await waitFor(() => tail.state.eof, 2000, 'the end');
    const count = requests.length;
    const standby = standbyTicks(tail);
    await waitFor(() => standby.count >= 3, 2000, 'ticks in standby');
    expect(requests.length).toBe(count);
    expect(requests[0].query.get('completion_index')).toBe('2');
    tail.dispose();
  });

  it("reports the server's error and keeps the text", async () => {
    const { client } = fakeServer(() => ({
      status: 404,
      body: { error: "no job 'abc' among your jobs", status: 404 }
    }));
    const tail = new LogTail({
      client,
      jobId: 'abc',
      completionIndex: null,
      isShown: () => true
    });
    await expect(tail.fetch()).rejects.toThrow("no job 'abc' among your jobs");
    expect(tail.error).toBe("no job 'abc' among your jobs");
    tail.dispose();
  });
});
