/**
 * Small pieces the panel and the launch dialog share: a site's badge, a job's state, an
 * array job's progress.
 */
import * as React from 'react';

import { IJob } from '../api';
import {
  progressFraction,
  progressText,
  siteBadge,
  stateLabel
} from '../format';

export function SiteBadge(props: {
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

export function StateTag(props: { state: IJob['state'] }): JSX.Element {
  return (
    <span className={`aiinfn-State aiinfn-State-${props.state}`}>
      {stateLabel(props.state)}
    </span>
  );
}

export function ProgressBar(props: { job: IJob }): JSX.Element | null {
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
