/**
 * The first-run hint: the first time JupyterLab opens with the extension, a short note
 * points at the Background jobs panel (its sidebar tab is marked) and at "Run as background
 * job". It is shown once: the state DB remembers it.
 */
import { Notification } from '@jupyterlab/apputils';
import { IStateDB } from '@jupyterlab/statedb';

/** The state DB key that remembers the hint was shown. */
export const HINT_KEY = 'aiinfn-hub:first-run-hint';

/** What the hint says (a notification shows at most 140 characters). */
export const HINT_MESSAGE =
  'New: "Run as background job" (notebook toolbar, file browser) keeps a job running after you close JupyterLab. Follow it here:';

/** The class that marks the panel's sidebar tab while the hint points at it. */
export const HINT_CLASS = 'aiinfn-mod-hint';

/** Where the hint points, and what its button does. */
export interface IHintTarget {
  /** The panel's tab in the sidebar. */
  tab(): HTMLElement | null;
  /** Show the panel. */
  open(): void;
  /** Call `callback` each time the panel is shown. */
  onShown(callback: () => void): void;
}

/**
 * True the first time only: the hint is due, and from now on remembered as shown (saved
 * before it is shown, so that it is not shown twice even if the page closes at once).
 */
export async function claimFirstRun(state: IStateDB): Promise<boolean> {
  try {
    if (await state.fetch(HINT_KEY)) {
      return false;
    }
    await state.save(HINT_KEY, { shown: new Date().toISOString() });
    return true;
  } catch (error) {
    // Without a state DB to remember it, the hint would show at every start: skip it.
    console.warn('aiinfn-hub: the first-run hint is skipped', error);
    return false;
  }
}

/** Show the hint if it is due; true when it was shown. */
export async function showFirstRunHint(
  state: IStateDB | null,
  target: IHintTarget
): Promise<boolean> {
  if (!state || !(await claimFirstRun(state))) {
    return false;
  }
  const tab = target.tab();
  tab?.classList.add(HINT_CLASS);
  const unmark = () => tab?.classList.remove(HINT_CLASS);
  target.onShown(unmark);
  Notification.info(HINT_MESSAGE, {
    autoClose: false,
    actions: [
      {
        label: 'Show Background jobs',
        caption: 'Open the Background jobs panel in the left sidebar',
        displayType: 'accent',
        callback: () => {
          unmark();
          target.open();
        }
      }
    ]
  });
  return true;
}
