import { Widget } from '@lumino/widgets';

import { IPanelActions, JobsPanel } from '../src/components/panel';
import { LogTails } from '../src/logtail';
import { JobsModel } from '../src/model';
import { makeJob, waitFor } from './fixtures';

/** The one-second intervals now running (the panel's clock is one). */
function trackClocks(): { running: () => number; restore: () => void } {
  const clocks = new Set<number>();
  const original = window.setInterval.bind(window);
  const setInterval = jest.spyOn(window, 'setInterval').mockImplementation(((
    handler: () => void,
    ms?: number
  ) => {
    const id = original(handler, ms);
    if (ms === 1000) {
      clocks.add(id);
    }
    return id;
  }) as any);
  const clearInterval = jest.spyOn(window, 'clearInterval');
  return {
    running: () =>
      [...clocks].filter(
        id => !clearInterval.mock.calls.some(([c]) => c === id)
      ).length,
    restore: () => {
      setInterval.mockRestore();
      clearInterval.mockRestore();
    }
  };
}

describe('JobsPanel', () => {
  it('ticks elapsed times only while it is on screen', async () => {
    const clocks = trackClocks();
    const model = new JobsModel();
    const actions: IPanelActions = {
      refresh: async () => undefined,
      reconnect: () => undefined,
      cancel: async () => undefined,
      rerun: async () => undefined,
      setUserFilter: () => undefined,
      openFile: () => undefined,
      loadJob: async () => undefined
    };
    const tails = new LogTails({} as any, () => false);
    model.upsert(makeJob({ state: 'running' }));
    const panel = new JobsPanel(model, actions, tails);
    try {
      Widget.attach(panel, document.body);
      await waitFor(() => clocks.running() === 1, 5000, 'the clock to start');
      expect(panel.node.textContent).toContain('Background jobs');

      panel.hide();
      await waitFor(() => clocks.running() === 0, 5000, 'the clock to stop');

      panel.show();
      await waitFor(
        () => clocks.running() === 1,
        5000,
        'the clock to start again'
      );
    } finally {
      panel.dispose();
      clocks.restore();
    }
  });
});
