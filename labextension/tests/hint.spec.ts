import { Notification } from '@jupyterlab/apputils';
import { StateDB } from '@jupyterlab/statedb';

import {
  claimFirstRun,
  HINT_CLASS,
  HINT_KEY,
  HINT_MESSAGE,
  showFirstRunHint
} from '../src/hint';

function target() {
  const tab = document.createElement('li');
  const shown: (() => void)[] = [];
  const opened: number[] = [];
  return {
    tab,
    shown,
    opened,
    target: {
      tab: () => tab,
      open: () => opened.push(1),
      onShown: (callback: () => void) => shown.push(callback)
    }
  };
}

describe('the first-run hint', () => {
  afterEach(() => jest.restoreAllMocks());

  it('is due once, then remembered in the state DB', async () => {
    const state = new StateDB();
    expect(await claimFirstRun(state)).toBe(true);
    expect(await state.fetch(HINT_KEY)).toBeTruthy();
    expect(await claimFirstRun(state)).toBe(false);
  });

  it('points at the panel tab, and its button opens the panel', async () => {
    const info = jest.spyOn(Notification, 'info');
    const state = new StateDB();
    const { tab, opened, target: where } = target();
    expect(await showFirstRunHint(state, where)).toBe(true);
    expect(tab.classList.contains(HINT_CLASS)).toBe(true);
    expect(info).toHaveBeenCalledTimes(1);
    const [message, options] = info.mock.calls[0];
    expect(message).toBe(HINT_MESSAGE);
    expect(message.length).toBeLessThanOrEqual(140);
    expect(message).toContain('Run as background job');
    expect(options?.autoClose).toBe(false);
    const action = options!.actions![0];
    expect(action.label).toBe('Show Background jobs');
    action.callback(new MouseEvent('click'));
    expect(opened).toHaveLength(1);
    expect(tab.classList.contains(HINT_CLASS)).toBe(false);

    // A second start: nothing.
    const again = target();
    expect(await showFirstRunHint(state, again.target)).toBe(false);
    expect(again.tab.classList.contains(HINT_CLASS)).toBe(false);
    expect(info).toHaveBeenCalledTimes(1);
  });

  it('stops pointing once the panel is shown', async () => {
    jest.spyOn(Notification, 'info');
    const { tab, shown, target: where } = target();
    await showFirstRunHint(new StateDB(), where);
    shown.forEach(callback => callback());
    expect(tab.classList.contains(HINT_CLASS)).toBe(false);
  });

  it('is skipped without a state DB to remember it', async () => {
    const info = jest.spyOn(Notification, 'info');
    expect(await showFirstRunHint(null, target().target)).toBe(false);
    const broken = new StateDB();
    jest.spyOn(broken, 'fetch').mockRejectedValue(new Error('no workspace'));
    jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(await showFirstRunHint(broken, target().target)).toBe(false);
    expect(info).not.toHaveBeenCalled();
  });
});
