/**
 * The site overview under the job list: each site's health, its GPUs (whole GPUs and MIG
 * slices apart) and CPUs, and its queue.
 */
import * as React from 'react';

import { ISite } from '../api';
import { capacityText, gpuCapacity, queueText, siteName } from '../format';

/** The sites: health, capacity and queue. */
export function SiteOverview(props: { sites: ISite[] }): JSX.Element {
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
