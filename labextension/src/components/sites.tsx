/**
 * The site overview under the job list: each site's health, its GPUs (whole GPUs and MIG
 * slices apart) and CPUs, and its queue.
 */
import * as React from 'react';

import { ISite } from '../api';
import {
  breakerText,
  capacityText,
  gpuCapacity,
  queueText,
  siteName
} from '../format';

/** One site's health word: OK, Degraded (its breaker keeps jobs away), or why it is down. */
function healthWord(site: ISite): { text: string; className: string } {
  if (!site.health.usable) {
    return { text: site.health.state, className: 'aiinfn-Health-bad' };
  }
  if (site.breaker && site.breaker.state !== 'closed') {
    return { text: 'Degraded', className: 'aiinfn-Health-degraded' };
  }
  return { text: 'OK', className: 'aiinfn-Health-ok' };
}

/** The sites: health, capacity and queue; `now` reads the time a degraded site is retried. */
export function SiteOverview(props: {
  sites: ISite[];
  now?: number;
}): JSX.Element {
  const now = props.now ?? Date.now();
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
                  className={`aiinfn-Site-health ${healthWord(site).className}`}
                >
                  {healthWord(site).text}
                </span>
              </div>
              {breakerText(site.breaker, now) && (
                <div className="aiinfn-Site-breaker" role="status">
                  {breakerText(site.breaker, now)}
                </div>
              )}
              <ul className="aiinfn-Site-capacity">
                {[
                  ...gpuCapacity(site),
                  capacityText(
                    site.capacity.cpu.free,
                    site.capacity.cpu.total,
                    'CPUs'
                  )
                ].map(text => (
                  <li key={text}>{text}</li>
                ))}
              </ul>
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
