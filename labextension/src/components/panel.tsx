/**
 * The left-sidebar panel: the job list, a job's detail (plan, timeline, log, actions) and
 * the site overview. Rendering only; state lives in JobsModel, I/O in the actions.
 */
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { IJob } from '../api';
import {
  formatClock,
  isTerminal,
  jobAriaLabel,
  siteName,
  summaryLine,
  timeSummary
} from '../format';
import { LogTails } from '../logtail';
import { concernsViewer, JobsModel } from '../model';
import { jobsIcon } from '../icons';
import { Timeline, LogView } from './attempts';
import { ProgressBar, SiteBadge, StateTag } from './badges';
import { Why } from './explain';
import { PlanView } from './plan';
import { SiteOverview } from './sites';

/** What the panel's buttons do; implemented by the plugin, which owns the I/O. */
export interface IPanelActions {
  refresh(): Promise<void>;
  reconnect(): void;
  cancel(job: IJob): Promise<void>;
  rerun(job: IJob, site: string | null): Promise<void>;
  setUserFilter(user: string): void;
  /** Open a file (the executed notebook) in JupyterLab. */
  openFile(path: string): void;
  /** Read one job afresh (on opening its detail). */
  loadJob(id: string): Promise<void>;
}

/** The current time, ticking each second while `active`. */
function useNow(active: boolean): number {
  const [now, setNow] = React.useState(Date.now());
  React.useEffect(() => {
    if (!active) {
      return;
    }
    setNow(Date.now());
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, [active]);
  return now;
}

function JobRow(props: {
  job: IJob;
  now: number;
  showOwner: boolean;
  onOpen: () => void;
}): JSX.Element {
  const { job, now } = props;
  const summary = summaryLine(job);
  return (
    <li className="aiinfn-JobRow" data-job-id={job.id} data-state={job.state}>
      <button
        className="aiinfn-JobRow-button"
        aria-label={jobAriaLabel(job, now)}
        onClick={props.onOpen}
      >
        <div className="aiinfn-JobRow-head">
          <span className="aiinfn-JobRow-name">{job.name}</span>
          <StateTag state={job.state} />
        </div>
        <div className="aiinfn-JobRow-meta">
          <SiteBadge site={job.site} display={job.site_display} />
          <span className="aiinfn-JobRow-time">{timeSummary(job, now)}</span>
          {props.showOwner && (
            <span className="aiinfn-JobRow-owner">{job.owner}</span>
          )}
        </div>
        <ProgressBar job={job} />
        {summary && (
          <div
            className={
              job.fallback
                ? 'aiinfn-JobRow-summary aiinfn-mod-fallback'
                : 'aiinfn-JobRow-summary'
            }
            title={summary}
          >
            {summary}
          </div>
        )}
      </button>
    </li>
  );
}

function JobDetail(props: {
  job: IJob;
  model: JobsModel;
  actions: IPanelActions;
  tails: LogTails;
  now: number;
}): JSX.Element {
  const { job, model, actions, now } = props;
  const [busy, setBusy] = React.useState(false);
  const [rerunSite, setRerunSite] = React.useState('');
  const [pickSite, setPickSite] = React.useState(false);
  const heading = React.useRef<HTMLHeadingElement>(null);
  React.useEffect(() => {
    heading.current?.focus();
    void actions.loadJob(job.id);
  }, [job.id]);
  const notebook = model.executedNotebook(job.id);
  const mine = concernsViewer(job, model.whoami);
  const canCancel = !isTerminal(job.state) && (mine || model.isAdmin);
  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    try {
      await action();
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="aiinfn-Detail" data-job-id={job.id}>
      <div className="aiinfn-Detail-bar">
        <button
          className="aiinfn-Button"
          onClick={() => model.select(null)}
          aria-label="Back to all jobs"
        >
          All jobs
        </button>
      </div>
      <h2 className="aiinfn-Detail-title" tabIndex={-1} ref={heading}>
        {job.name}
      </h2>
      <div className="aiinfn-Detail-meta">
        <SiteBadge site={job.site} display={job.site_display} />
        <StateTag state={job.state} />
        <span>{timeSummary(job, now)}</span>
      </div>
      <ProgressBar job={job} />
      <Why job={job} />
      {job.fallback && (
        <p className="aiinfn-Detail-fallback aiinfn-mod-fallback">
          {job.fallback}
        </p>
      )}
      <dl className="aiinfn-Detail-facts">
        <dt>Job</dt>
        <dd>{job.id}</dd>
        <dt>Owner</dt>
        <dd>{job.owner}</dd>
        <dt>Submitted</dt>
        <dd>{formatClock(job.submitted, now)}</dd>
        {job.ended && (
          <>
            <dt>Ended</dt>
            <dd>{formatClock(job.ended, now)}</dd>
          </>
        )}
      </dl>
      <div className="aiinfn-Actions" role="group" aria-label="Job actions">
        {canCancel && (
          <button
            className="aiinfn-Button aiinfn-mod-warn"
            disabled={busy}
            onClick={() => run(() => actions.cancel(job))}
            aria-label={`Cancel job ${job.name}`}
          >
            Cancel
          </button>
        )}
        <button
          className="aiinfn-Button"
          disabled={busy}
          onClick={() => run(() => actions.rerun(job, null))}
          aria-label={`Rerun job ${job.name}`}
        >
          Rerun
        </button>
        <button
          className="aiinfn-Button"
          disabled={busy}
          aria-expanded={pickSite}
          onClick={() => setPickSite(!pickSite)}
          aria-label={`Rerun job ${job.name} at a site you choose`}
        >
          Rerun at…
        </button>
        {notebook && (
          <button
            className="aiinfn-Button"
            onClick={() => actions.openFile(notebook)}
            aria-label={`Open the executed notebook ${notebook}`}
            title={notebook}
          >
            Open executed notebook
          </button>
        )}
      </div>
      {pickSite && (
        <div className="aiinfn-RerunAt">
          <label>
            Site{' '}
            <select
              value={rerunSite}
              onChange={e => setRerunSite(e.target.value)}
              aria-label="Site to rerun at"
            >
              <option value="">choose a site</option>
              {model.sites.map(site => (
                <option key={site.name} value={site.name}>
                  {siteName(site)}
                </option>
              ))}
            </select>
          </label>
          <button
            className="aiinfn-Button aiinfn-mod-accept"
            disabled={busy || !rerunSite}
            onClick={() =>
              run(async () => {
                await actions.rerun(job, rerunSite);
                setPickSite(false);
              })
            }
          >
            Rerun there
          </button>
        </div>
      )}
      <PlanView plan={job.plan} />
      <Timeline attempts={job.attempts ?? []} now={now} />
      <LogView job={job} tails={props.tails} />
    </div>
  );
}

function UserFilter(props: {
  model: JobsModel;
  actions: IPanelActions;
}): JSX.Element {
  const { model } = props;
  const owners = model.owners();
  return (
    <div className="aiinfn-UserFilter">
      <label>
        User{' '}
        <select
          value={model.userFilter}
          onChange={e => props.actions.setUserFilter(e.target.value)}
          aria-label="Show the jobs of"
        >
          <option value="">everyone</option>
          {owners.map(owner => (
            <option key={owner} value={owner}>
              {owner}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}

function PanelView(props: {
  model: JobsModel;
  actions: IPanelActions;
  tails: LogTails;
  /** Whether the panel is on screen: elapsed times tick only then. */
  visible: boolean;
}): JSX.Element {
  const { model, actions } = props;
  const now = useNow(props.visible);
  const selected = model.selected;
  const jobs = model.visibleJobs();
  return (
    <div className="aiinfn-Panel-body">
      <header className="aiinfn-Header">
        <jobsIcon.react tag="span" className="aiinfn-Header-icon" />
        <h2 className="aiinfn-Header-title">Background jobs</h2>
        <button
          className="aiinfn-Button aiinfn-Header-refresh"
          onClick={() => void actions.refresh()}
          aria-label="Refresh jobs and sites"
          title="Refresh jobs and sites"
        >
          Refresh
        </button>
      </header>
      {model.connection === 'stopped' && (
        <div className="aiinfn-Banner aiinfn-mod-stopped" role="status">
          <span>{model.connectionMessage}</span>
          <button className="aiinfn-Button" onClick={() => actions.reconnect()}>
            Reconnect
          </button>
        </div>
      )}
      {model.connection === 'connecting' && model.connectionMessage && (
        <div className="aiinfn-Banner" role="status">
          {model.connectionMessage}
        </div>
      )}
      {model.error && (
        <div className="aiinfn-Error" role="alert">
          {model.error}
        </div>
      )}
      {selected ? (
        <JobDetail
          job={selected}
          model={model}
          actions={actions}
          tails={props.tails}
          now={now}
        />
      ) : (
        <>
          {model.isAdmin && <UserFilter model={model} actions={actions} />}
          {jobs.length === 0 ? (
            <p className="aiinfn-Empty">
              No background jobs yet. Right-click a notebook, Python or shell
              script and choose "Run as background job".
            </p>
          ) : (
            <ul
              className="aiinfn-JobList"
              aria-label="Background jobs, newest first"
            >
              {jobs.map(job => (
                <JobRow
                  key={job.id}
                  job={job}
                  now={now}
                  showOwner={model.isAdmin}
                  onOpen={() => model.select(job.id)}
                />
              ))}
            </ul>
          )}
          <SiteOverview sites={model.sites} now={now} />
        </>
      )}
    </div>
  );
}

/** The sidebar widget. */
export class JobsPanel extends ReactWidget {
  private _shown = new Set<() => void>();

  constructor(
    readonly model: JobsModel,
    private readonly _actions: IPanelActions,
    private readonly _tails: LogTails
  ) {
    super();
    this.id = 'aiinfn-hub-jobs';
    this.addClass('aiinfn-Panel');
    this.title.icon = jobsIcon;
    this.title.caption = 'Background jobs';
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'Background jobs');
  }

  /** Call `callback` each time the panel is shown. */
  onShown(callback: () => void): void {
    this._shown.add(callback);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.update(); // the clock ticks again
    for (const callback of this._shown) {
      callback();
    }
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.update(); // the clock stops: nothing re-renders each second off screen
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => (
          <PanelView
            model={this.model}
            actions={this._actions}
            tails={this._tails}
            visible={this.isVisible}
          />
        )}
      </UseSignal>
    );
  }
}
