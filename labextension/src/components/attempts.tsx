/**
 * A job's attempts (one per site it tried, with the reasons and Kueue's own words) and its
 * live log.
 */
import { UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IAttempt, IJob } from '../api';
import {
  formatClock,
  kueueText,
  logNote,
  outcomeLabel,
  podText
} from '../format';
import { LogTail, LogTails } from '../logtail';
import { SiteBadge } from './badges';

/** The attempts, oldest first. */
export function Timeline(props: {
  attempts: IAttempt[];
  now: number;
}): JSX.Element {
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

/** The log, followed while shown. */
export function LogView(props: { job: IJob; tails: LogTails }): JSX.Element {
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
              <div className="aiinfn-Note aiinfn-Log-note">
                {logNote(props.job.state, state)}
              </div>
            </>
          );
        }}
      </UseSignal>
    </section>
  );
}
