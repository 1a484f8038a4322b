/**
 * aiinfn-hub: background jobs in JupyterLab. The sidebar panel, "Run as background job"
 * (notebook toolbar, file browser, command palette), live updates and notifications.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  showDialog,
  showErrorMessage,
  Dialog
} from '@jupyterlab/apputils';
import { FileDialog, IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';

import { errorMessage, IJob, JobsClient } from './api';
import { LaunchBody, LaunchDialog } from './components/launchdialog';
import { IPanelActions, JobsPanel } from './components/panel';
import { showFirstRunHint } from './hint';
import { jobsIcon } from './icons';
import { formDefaults, notebookHints, scriptKind } from './launch';
import { LiveUpdates, refreshAll } from './live';
import { LogTails } from './logtail';
import { JobsModel } from './model';
import { notifyNotebook, notifyTransition } from './notify';
import serverPlacePlugin from './serverplace';

const PLUGIN_ID = 'aiinfn-hub:plugin';

export namespace CommandIDs {
  export const open = 'aiinfn-hub:open';
  export const run = 'aiinfn-hub:run-as-job';
  export const runFile = 'aiinfn-hub:run-file-as-job';
  export const openJob = 'aiinfn-hub:open-job';
  export const newJob = 'aiinfn-hub:new-job';
}

/** The tooltip of the panel's sidebar tab. */
export const PANEL_CAPTION =
  'Background jobs: where your jobs run, their fallbacks and logs';

/** The tooltip of "Run as background job" (notebook toolbar, file browser, palette). */
export const RUN_CAPTION =
  'Run as background job: it keeps running when you close JupyterLab, at the site that fits it best';

interface ISettings {
  pollInterval: number;
  notify: boolean;
}

const DEFAULT_SETTINGS: ISettings = { pollInterval: 10, notify: true };

function readSettings(settings: ISettingRegistry.ISettings | null): ISettings {
  if (!settings) {
    return DEFAULT_SETTINGS;
  }
  return {
    pollInterval: Number(
      settings.composite.pollInterval ?? DEFAULT_SETTINGS.pollInterval
    ),
    notify: settings.composite.notify !== false
  };
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Background jobs: where they run, why, their fallbacks and logs.',
  autoStart: true,
  optional: [
    ILayoutRestorer,
    ICommandPalette,
    INotebookTracker,
    IDefaultFileBrowser,
    ISettingRegistry,
    ILauncher,
    IStateDB
  ],
  activate: async (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    notebooks: INotebookTracker | null,
    fileBrowser: IDefaultFileBrowser | null,
    registry: ISettingRegistry | null,
    launcher: ILauncher | null,
    stateDB: IStateDB | null
  ) => {
    const { commands, shell, serviceManager } = app;
    const client = new JobsClient(serviceManager.serverSettings);
    const model = new JobsModel();
    let settings = DEFAULT_SETTINGS;
    if (registry) {
      try {
        settings = readSettings(await registry.load(PLUGIN_ID));
      } catch (error) {
        console.warn('aiinfn-hub: settings not loaded, using defaults', error);
      }
    }

    // The log tails ask whether the panel is shown; the panel needs the tails first.
    let shownPanel: JobsPanel | null = null;
    const isShown = () => !!shownPanel?.isVisible;
    const tails = new LogTails(client, isShown);
    const live = new LiveUpdates({
      model,
      client,
      events: serviceManager.events ?? null,
      isVisible: isShown,
      connectionLost: serviceManager.connectionFailure,
      interval: Math.max(1, settings.pollInterval) * 1000
    });
    live.stopped.connect(() => tails.pauseAll());

    const report = (error: unknown): string => {
      const message = errorMessage(error);
      model.setError(message);
      return message;
    };

    const actions: IPanelActions = {
      refresh: async () => {
        model.setError('');
        if (!live.running) {
          live.start();
          return;
        }
        try {
          await refreshAll(model, client);
        } catch (error) {
          report(error);
        }
      },
      reconnect: () => {
        model.setError('');
        live.start();
      },
      cancel: async (job: IJob) => {
        const answer = await showDialog({
          title: 'Cancel background job',
          body: `Cancel ${job.name}? It stops wherever it runs now and will not fall back.`,
          buttons: [
            Dialog.cancelButton({ label: 'Keep running' }),
            Dialog.warnButton({ label: 'Cancel job' })
          ]
        });
        if (!answer.button.accept) {
          return;
        }
        try {
          model.upsert(await client.cancel(job.id));
          model.setError('');
        } catch (error) {
          await showErrorMessage('Job not cancelled', report(error));
        }
      },
      rerun: async (job: IJob, site: string | null) => {
        try {
          const fresh = await client.rerun(job.id, site);
          model.upsert(fresh);
          model.select(fresh.id);
          model.setError('');
        } catch (error) {
          await showErrorMessage('Job not rerun', report(error));
        }
      },
      setUserFilter: (user: string) => {
        model.setUserFilter(user);
        void actions.refresh();
      },
      openFile: (path: string) => {
        void commands.execute('docmanager:open', { path });
      },
      loadJob: async (id: string) => {
        try {
          const job = await client.getJob(id);
          model.upsert(job);
          if (job.executed_notebook) {
            model.setExecutedNotebook(job, job.executed_notebook, false);
          }
        } catch (error) {
          report(error);
        }
      }
    };

    const panel = new JobsPanel(model, actions, tails);
    panel.title.caption = PANEL_CAPTION;
    shownPanel = panel;
    panel.onShown(() => {
      if (live.running) {
        void live.refresh();
      }
    });
    shell.add(panel, 'left', { rank: 650 });
    restorer?.add(panel, 'aiinfn-hub-jobs');

    const openJob = (id: string) => {
      model.select(id);
      shell.activateById(panel.id);
    };
    model.transition.connect((_, transition) => {
      if (settings.notify) {
        notifyTransition(transition, openJob);
      }
    });
    model.notebookSaved.connect((_, { job, path }) => {
      if (settings.notify) {
        notifyNotebook(job, path, actions.openFile);
      }
    });

    const launch = async (path: string): Promise<void> => {
      if (!scriptKind(path)) {
        await showErrorMessage(
          'Cannot run as a background job',
          `${path} is not a notebook (.ipynb), Python script (.py) or shell script (.sh).`
        );
        return;
      }
      let hints = null;
      const open = notebooks?.find(nb => nb.context.path === path);
      if (open) {
        if (open.context.model.dirty) {
          await open.context.save();
        }
        hints = notebookHints(open.context.model.metadata);
      } else if (scriptKind(path) === 'notebook') {
        try {
          const file = await serviceManager.contents.get(path, {
            content: true
          });
          hints = notebookHints(file.content?.metadata);
        } catch {
          hints = null;
        }
      }
      try {
        if (!model.whoami) {
          model.setWhoami(await client.whoami());
        }
      } catch (error) {
        await showErrorMessage(
          'Background jobs are not available',
          report(error)
        );
        return;
      }
      const body = new LaunchBody(
        client,
        path,
        formDefaults(model.whoami?.defaults, hints),
        model.sites
      );
      const dialog = new LaunchDialog(body);
      const result = await dialog.launch();
      if (result.button.accept && dialog.submitted) {
        model.upsert(dialog.submitted);
        openJob(dialog.submitted.id);
      }
    };

    const currentPath = (): string | null => {
      const widget = shell.currentWidget;
      const context =
        widget && (widget as { context?: { path?: string } }).context;
      if (context?.path && scriptKind(context.path)) {
        return context.path;
      }
      const notebook = notebooks?.currentWidget;
      return notebook ? notebook.context.path : null;
    };

    const selectedFiles = (): string[] => {
      if (!fileBrowser) {
        return [];
      }
      return [...fileBrowser.selectedItems()]
        .filter(item => item.type !== 'directory')
        .map(item => item.path);
    };

    commands.addCommand(CommandIDs.open, {
      label: 'Show Background Jobs',
      caption: 'Open the background jobs panel',
      icon: jobsIcon,
      execute: () => shell.activateById(panel.id)
    });

    commands.addCommand(CommandIDs.openJob, {
      label: 'Open Background Job',
      execute: args => openJob(String(args.id ?? ''))
    });

    commands.addCommand(CommandIDs.run, {
      label: args =>
        args.isPalette ? 'Run as Background Job' : 'Run as background job',
      caption: RUN_CAPTION,
      icon: jobsIcon,
      isEnabled: () =>
        !!currentPath() || selectedFiles().some(p => scriptKind(p)),
      execute: async args => {
        const path =
          (args.path as string | undefined) ??
          currentPath() ??
          selectedFiles().find(p => scriptKind(p)) ??
          null;
        if (path) {
          await launch(path);
        }
      }
    });

    commands.addCommand(CommandIDs.runFile, {
      label: 'Run as background job',
      caption: RUN_CAPTION,
      icon: jobsIcon,
      isVisible: () => {
        const files = selectedFiles();
        return files.length === 1 && !!scriptKind(files[0]);
      },
      execute: async () => {
        const [path] = selectedFiles();
        if (path) {
          await launch(path);
        }
      }
    });

    commands.addCommand(CommandIDs.newJob, {
      label: args =>
        args.isLauncher ? 'Background Job' : 'New Background Job',
      caption:
        'Choose a notebook, Python or shell script to run as a background job',
      icon: jobsIcon,
      execute: async args => {
        if (!fileBrowser) {
          return;
        }
        const result = await FileDialog.getOpenFiles({
          manager: fileBrowser.model.manager,
          title: 'Run as background job',
          label:
            'Choose a notebook (.ipynb), Python script (.py) or shell script (.sh).',
          defaultPath: typeof args.cwd === 'string' ? args.cwd : undefined,
          filter: item =>
            item.type === 'directory' || scriptKind(item.path) ? {} : null
        });
        const file = result.button.accept
          ? (result.value ?? []).find(item => scriptKind(item.path))
          : undefined;
        if (file) {
          await launch(file.path);
        }
      }
    });
    launcher?.add({
      command: CommandIDs.newJob,
      args: { isLauncher: true },
      category: 'Other',
      rank: 10
    });

    if (palette) {
      const category = 'Background Jobs';
      palette.addItem({
        command: CommandIDs.run,
        category,
        args: { isPalette: true }
      });
      palette.addItem({ command: CommandIDs.open, category });
      palette.addItem({ command: CommandIDs.newJob, category });
    }

    notebooks?.currentChanged.connect(() =>
      commands.notifyCommandChanged(CommandIDs.run)
    );

    void app.restored.then(() => {
      live.start();
      void showFirstRunHint(stateDB, {
        tab: () =>
          document.querySelector<HTMLElement>(
            `.jp-SideBar [data-id="${panel.id}"]`
          ),
        open: () => shell.activateById(panel.id),
        onShown: callback => panel.onShown(callback)
      });
    });
    console.log('aiinfn-hub: background jobs panel is active');
  }
};

export default [plugin, serverPlacePlugin];
