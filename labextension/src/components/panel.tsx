/**
 * The left-sidebar panel: the job list, a job's detail (plan, timeline, log, actions) and
 * the site overview. Rendering only; state lives in JobsModel, I/O in the actions.
 */
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { IAttempt, IJob, IPlan, ISite } from '../api';
import {
  capacityText,
  formatClock,
  isTerminal,
  jobAriaLabel,
  kueueText,
  outcomeLabel,
  podText,
  progressFraction,
  progressText,
  queueText,
  siteBadge,
  siteName,
  stateLabel,
  summaryLine,
  timeSummary
} from '../format';
import { LogTail, LogTails } from '../logtail';
import { concernsViewer, JobsModel } from '../model';
import { jobsIcon } from '../icons';

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

function SiteBadge(props: {
  site?: string | null;
  display?: string | null;
}): JSX.Element {
  const badge = siteBadge(props.site, props.display);
  return (
    <span
      className={`aiinfn-SiteBadge aiinfn-SiteBadge-${badge.modifier}`}
      title={props.display ?? badge.label}
    >
      {badge.label}
    </span>
  );
}

function StateTag(props: { state: IJob['state'] }): JSX.Element {
  return (
    <span className={`aiinfn-State aiinfn-State-${props.state}`}>
      {stateLabel(props.state)}
    </span>
  );
}

function ProgressBar(props: { job: IJob }): JSX.Element | null {
  const fraction = progressFraction(props.job.progress);
  if (fraction === null) {
    return null;
  }
  const text = progressText(props.job.progress);
  return (
    <div className="aiinfn-Progress">
      <div
        className="aiinfn-ProgressBar"
        role="progressbar"
        aria-label={`Array progress of ${props.job.name}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(fraction * 100)}
        aria-valuetext={text}
      >
        <div
          className="aiinfn-ProgressBar-fill"
          style={{ width: `${Math.round(fraction * 100)}%` }}
        />
      </div>
      <span className="aiinfn-Progress-text">{text}</span>
    </div>
  );
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

function SiteOverview(props: { sites: ISite[] }): JSX.Element {
  return (
    <details className="aiinfn-Sites" open>
      <summary>Sites</summary>
      {props.sites.length === 0 ? (
        <p className="aiinfn-Empty">No site information yet.</p>
      ) : (
        <ul
          className="aiinfn-SiteList"
          aria-label="Sites: health, capacity and queue"
        >
          {props.sites.map(site => (
            <li key={site.name} className="aiinfn-Site" data-site={site.name}>
              <div className="aiinfn-Site-head">
                <span className="aiinfn-Site-name">{siteName(site)}</span>
                <span
                  className={
                    site.health.usable
                      ? 'aiinfn-Site-health aiinfn-Health-ok'
                      : 'aiinfn-Site-health aiinfn-Health-bad'
                  }
                >
                  {site.health.usable ? 'OK' : site.health.state}
                </span>
              </div>
              <div className="aiinfn-Site-capacity">
                {capacityText(
                  site.capacity.gpus.free,
                  site.capacity.gpus.total,
                  'GPUs'
                )}
                {' \u00b7 '}
                {capacityText(
                  site.capacity.cpu.free,
                  site.capacity.cpu.total,
                  'CPUs'
                )}
              </div>
              <div
                className="aiinfn-Site-queue"
                title={site.queue.reasons.join('\n')}
              >
                {queueText(site.queue.pending)}
              </div>
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}

export function PlanView(props: {
  plan: IPlan;
  heading?: string;
}): JSX.Element {
  const { plan } = props;
  return (
    <section className="aiinfn-Plan" aria-label={props.heading ?? 'Plan'}>
      <h3>{props.heading ?? 'Plan'}</h3>
      <ul className="aiinfn-Detected">
        <li data-detected="gpu">
          <strong>GPU: {plan.requires_gpu ? 'yes' : 'no'}</strong>
          {plan.reasons?.requires_gpu ? ` (${plan.reasons.requires_gpu})` : ''}
        </li>
        <li data-detected="offloadable">
          <strong>Offloadable: {plan.offloadable ? 'yes' : 'no'}</strong>
          {plan.reasons?.offloadable ? ` (${plan.reasons.offloadable})` : ''}
        </li>
      </ul>
      <ol className="aiinfn-PlanSites">
        {plan.sites.map(site => (
          <li key={site.name} data-site={site.name}>
            <SiteBadge site={site.name} display={site.display_name} />{' '}
            {site.reason}
          </li>
        ))}
      </ol>
      {plan.ruled_out.length > 0 && (
        <ul className="aiinfn-RuledOut" aria-label="Sites ruled out">
          {plan.ruled_out.map(site => (
            <li key={site.name} data-site={site.name}>
              <span className="aiinfn-RuledOut-name">
                Not {siteBadge(site.name, site.display_name).label}
              </span>
              : {site.reason}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Timeline(props: { attempts: IAttempt[]; now: number }): JSX.Element {
  if (!props.attempts.length) {
    return (
      <section className="aiinfn-Timeline" aria-label="Attempts">
        <h3>Attempts</h3>
        <p className="aiinfn-Empty">No attempt has started yet.</p>
      </section>
    );
  }
  return (
    <section className="aiinfn-Timeline" aria-label="Attempts">
      <h3>Attempts</h3>
      <ol className="aiinfn-Attempts">
        {props.attempts.map(attempt => {
          const raw = kueueText(attempt.kueue);
          const pod = podText(attempt.pod);
          return (
            <li
              key={attempt.number}
              className={`aiinfn-Attempt aiinfn-Attempt-${attempt.outcome ?? 'active'}`}
              data-site={attempt.site}
              data-outcome={attempt.outcome ?? 'active'}
            >
              <div className="aiinfn-Attempt-head">
                <span className="aiinfn-Attempt-number">#{attempt.number}</span>
                <SiteBadge site={attempt.site} display={attempt.site_display} />
                <span className="aiinfn-Attempt-outcome">
                  {outcomeLabel(attempt)}
                </span>
              </div>
              <div className="aiinfn-Attempt-times">
                {formatClock(attempt.started, props.now)} to{' '}
                {attempt.ended ? formatClock(attempt.ended, props.now) : 'now'}
              </div>
              <div className="aiinfn-Attempt-reason">{attempt.reason}</div>
              {(raw || pod || attempt.remote_job_id) && (
                <details className="aiinfn-Attempt-raw">
                  <summary>Kueue and site details</summary>
                  {raw && <code data-raw="kueue">Kueue: {raw}</code>}
                  {pod && <code data-raw="pod">{pod}</code>}
                  {attempt.remote_job_id && (
                    <div>Remote job: {attempt.remote_job_id}</div>
                  )}
                </details>
              )}
            </li>
          );
        })}
      </ol>
    </section>
  );
}

function LogView(props: { job: IJob; tails: LogTails }): JSX.Element {
  const completions = props.job.progress?.completions ?? 1;
  const [index, setIndex] = React.useState<number | null>(null);
  const tail: LogTail = props.tails.get(props.job.id, index);
  const pre = React.useRef<HTMLPreElement>(null);
  React.useEffect(() => {
    tail.setWatching(true);
    return () => tail.setWatching(false);
  }, [tail]);
  return (
    <section className="aiinfn-Log" aria-label="Log">
      <div className="aiinfn-Log-head">
        <h3>Log</h3>
        {completions > 1 && (
          <label>
            Completion index{' '}
            <select
              value={index === null ? '' : String(index)}
              onChange={e =>
                setIndex(e.target.value === '' ? null : Number(e.target.value))
              }
            >
              <option value="">latest</option>
              {Array.from({ length: completions }, (_, i) => (
                <option key={i} value={String(i)}>
                  {i}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      <UseSignal signal={tail.changed}>
        {() => {
          const state = tail.state;
          window.requestAnimationFrame(() => {
            if (pre.current) {
              pre.current.scrollTop = pre.current.scrollHeight;
            }
          });
          return (
            <>
              {tail.error && (
                <div className="aiinfn-Error" role="alert">
                  {tail.error}
                </div>
              )}
              {state.truncated && (
                <div className="aiinfn-Note">Older lines are not shown.</div>
              )}
              <pre
                ref={pre}
                className="aiinfn-LogText"
                role="log"
                aria-live="polite"
                tabIndex={0}
                aria-label={`Log of ${props.job.name}`}
              >
                {state.text}
              </pre>
              <div className="aiinfn-Note">
                {state.message ||
                  (state.eof
                    ? 'End of log.'
                    : state.text
                      ? 'Following the log.'
                      : 'Waiting for output.')}
              </div>
            </>
          );
        }}
      </UseSignal>
    </section>
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
      <p className="aiinfn-Detail-reason">{job.reason}</p>
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
          <SiteOverview sites={model.sites} />
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
