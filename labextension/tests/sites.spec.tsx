import { ReactWidget } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { ISite } from '../src/api';
import { SiteOverview } from '../src/components/sites';
import { breakerText, formatClock } from '../src/format';
import { makeSites, waitFor } from './fixtures';

const NOW = Date.parse('2025-06-02T12:00:00Z');
const RETRY = '2025-06-02T12:05:00Z';
const REASON =
  '3 of the last 3 submissions to CNAF Tier-1 failed: the remote submission failed: ' +
  'Error creating the remote job: HTTP 504 Gateway Timeout';

/** The sites, the Tier-1's breaker as given. */
function withBreaker(breaker: ISite['breaker']): ISite[] {
  return makeSites().map(site =>
    site.name === 'tier1'
      ? { ...site, breaker }
      : { ...site, breaker: { state: 'closed', reason: null, retry_at: null } }
  );
}

/** The overview as the panel renders it: each site's text by name. */
async function render(sites: ISite[]): Promise<Record<string, string>> {
  const widget = ReactWidget.create(<SiteOverview sites={sites} now={NOW} />);
  Widget.attach(widget, document.body);
  try {
    await waitFor(
      () => widget.node.querySelectorAll('[data-site]').length === sites.length,
      5000,
      'the sites to render'
    );
    const found: Record<string, string> = {};
    widget.node.querySelectorAll('[data-site]').forEach(item => {
      found[item.getAttribute('data-site') ?? ''] = item.textContent ?? '';
    });
    return found;
  } finally {
    widget.dispose();
  }
}

describe('the site overview', () => {
  it('shows a degraded site plainly, with why and when it is retried', async () => {
    const shown = await render(
      withBreaker({ state: 'open', reason: REASON, retry_at: RETRY })
    );
    const retry = formatClock(RETRY, NOW);
    expect(shown.tier1).toContain('Degraded');
    expect(shown.tier1).toContain(
      `Degraded: ${REASON}; new jobs skip it, retrying at ${retry}`
    );
    expect(shown.tier1).not.toContain('OK');
    expect(shown.leonardo).toContain('OK');
    expect(shown.leonardo).not.toContain('Degraded');
  });

  it('says the next job tests a site whose cool-down is over', async () => {
    const shown = await render(
      withBreaker({ state: 'probing', reason: REASON, retry_at: RETRY })
    );
    expect(shown.tier1).toContain(
      `Degraded: ${REASON}; the next job sent there tests it`
    );
  });

  it('shows a site down for its nodes by their words, not as degraded', async () => {
    const sites = withBreaker({
      state: 'open',
      reason: REASON,
      retry_at: RETRY
    });
    sites[1] = {
      ...sites[1],
      health: { usable: false, state: 'down: its node is not ready' }
    };
    const shown = await render(sites);
    expect(shown.tier1).toContain('down: its node is not ready');
  });

  it('says nothing of a closed breaker, or of a service that reports none', async () => {
    expect(breakerText(undefined, NOW)).toBe('');
    expect(
      breakerText({ state: 'closed', reason: null, retry_at: null }, NOW)
    ).toBe('');
    const shown = await render(makeSites());
    expect(shown.tier1).toContain('OK');
  });
});
