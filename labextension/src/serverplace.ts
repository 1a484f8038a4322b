/**
 * Where this server runs, for the whole session: a chip in the top bar ("Server: CINECA
 * Leonardo · fell back · scratch home"), amber when the server fell back or its home is a
 * scratch folder, with the full sentences on hover and click; and, for a scratch home, a
 * notice that stays until dismissed. The server extension says it (`GET aiinfn-hub/api/server`,
 * from what the spawner gave the server); outside a hub there is nothing to show.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { JobsClient } from './api';

/** The server extension's answer (aiinfn_hub/serverplace.py, ServerPlace.to_api). */
export interface IServerPlace {
  site: string;
  site_name: string;
  remote: boolean;
  fell_back: boolean;
  fell_back_from: { site_name: string; reason: string }[];
  scratch_home: boolean;
  scratch_volumes: string[];
  copy_back_bytes: number;
  ends_at: number | null;
  summary: string;
  message: string;
  /** One short sentence for a notice, when the home is scratch. */
  notice: string;
}

export const SERVER_PLACE_PLUGIN_ID = 'aiinfn-hub:server-place';

/** Whether the place needs the user's attention (amber): a fallback or a scratch home. */
export function needsAttention(place: IServerPlace): boolean {
  return place.fell_back || place.scratch_home;
}

/** The top bar's chip: where the server runs, in a few words; the sentences on click. */
export class ServerPlaceIndicator extends Widget {
  constructor(readonly place: IServerPlace) {
    super({ node: document.createElement('button') });
    const button = this.node as HTMLButtonElement;
    button.type = 'button';
    this.id = 'aiinfn-server-place';
    this.addClass('jp-aiinfn-ServerPlace');
    if (needsAttention(place)) {
      this.addClass('jp-aiinfn-ServerPlace--attention');
    }
    button.textContent = `Server: ${place.summary}`;
    button.title = place.message;
    button.setAttribute('aria-label', place.message);
    button.addEventListener('click', () => void this.explain());
  }

  /** The full sentences in a dialog. */
  explain(): Promise<unknown> {
    return showDialog({
      title: `Your server runs at ${this.place.site_name}`,
      body: this.place.message,
      buttons: [Dialog.okButton({ label: 'Close' })]
    });
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: SERVER_PLACE_PLUGIN_ID,
  description:
    'Where the server runs: its site, a fallback, and a scratch home at a remote site.',
  autoStart: true,
  activate: async (app: JupyterFrontEnd) => {
    const client = new JobsClient(app.serviceManager.serverSettings);
    let place: IServerPlace;
    try {
      place = await client.request<IServerPlace>('GET', 'server');
    } catch (error) {
      console.warn('aiinfn-hub: where this server runs is unknown', error);
      return;
    }
    if (!place.site_name) {
      return; // not started by the hub's spawner (standalone, Binder, a laptop)
    }
    const indicator = new ServerPlaceIndicator(place);
    app.shell.add(indicator, 'top', { rank: 900 });
    if (place.scratch_home) {
      // once the notices' display is up (after start-up), so that this one is seen
      void app.restored.then(() =>
        Notification.warning(place.notice, {
          autoClose: false,
          actions: [
            {
              label: 'Details',
              callback: () => void indicator.explain()
            }
          ]
        })
      );
    }
  }
};

export default plugin;
