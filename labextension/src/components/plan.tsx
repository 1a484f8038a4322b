/**
 * A placement plan: what was detected, the sites in the order they would be tried, and
 * those ruled out, each with its reason.
 */
import * as React from 'react';

import { IPlan, IQueueEstimate } from '../api';
import { detectedDetail, siteBadge, startText } from '../format';
import { SiteBadge } from './badges';

/** One thing the plan detected: the verdict, then why (without repeating the verdict). */
function Detected(props: {
  kind: string;
  label: string;
  yes: boolean;
  reason?: string;
}): JSX.Element {
  const detail = detectedDetail(props.reason);
  return (
    <li data-detected={props.kind}>
      <strong>
        {props.label}: {props.yes ? 'yes' : 'no'}
      </strong>
      {detail ? ` (${detail})` : ''}
    </li>
  );
}

/** Where a job would stand in a site's queue and when it would start, with how that was
 * estimated. */
function QueueLine(props: { queue: IQueueEstimate; now: number }): JSX.Element {
  const { queue } = props;
  return (
    <div
      className="aiinfn-PlanSites-queue"
      data-position={queue.position}
      title={queue.basis}
    >
      <strong>{startText(queue, props.now)}</strong>: {queue.basis}
    </div>
  );
}

/** The plan, under `heading`; `now` (ms) for the estimated starts. */
export function PlanView(props: {
  plan: IPlan;
  heading?: string;
  now?: number;
}): JSX.Element {
  const { plan } = props;
  const now = props.now ?? Date.now();
  return (
    <section className="aiinfn-Plan" aria-label={props.heading ?? 'Plan'}>
      <h3>{props.heading ?? 'Plan'}</h3>
      <ul className="aiinfn-Detected">
        <Detected
          kind="gpu"
          label="GPU"
          yes={plan.requires_gpu}
          reason={plan.reasons?.requires_gpu}
        />
        <Detected
          kind="offloadable"
          label="Offloadable"
          yes={plan.offloadable}
          reason={plan.reasons?.offloadable}
        />
      </ul>
      <ol className="aiinfn-PlanSites">
        {plan.sites.map(site => (
          <li key={site.name} data-site={site.name}>
            <SiteBadge site={site.name} display={site.display_name} />{' '}
            <span className="aiinfn-PlanSites-reason">{site.reason}</span>
            {site.queue && <QueueLine queue={site.queue} now={now} />}
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
