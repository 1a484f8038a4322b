import { ReactWidget } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { PlanView } from '../src/components/plan';
import { spanText, startText } from '../src/format';
import { makeJob, waitFor } from './fixtures';

const NOW = Date.parse('2026-11-25T10:00:00Z');
const BASIS =
  "3rd in CINECA Leonardo's queue; 2 running jobs end within 25 min by their time limits";

/** The plan as the launch dialog and the job detail render it. */
async function rendered(
  plan: ReturnType<typeof makeJob>['plan']
): Promise<HTMLElement> {
  const widget = ReactWidget.create(<PlanView plan={plan} now={NOW} />);
  Widget.attach(widget, document.body);
  await waitFor(
    () => widget.node.querySelector('.aiinfn-Plan'),
    5000,
    'the plan'
  );
  return widget.node;
}

describe('the estimated start in a plan', () => {
  it('shows each site’s place in its queue and when the job would start', async () => {
    const { plan } = makeJob();
    plan.sites[0].queue = {
      position: 3,
      ahead: 2,
      estimated_start: {
        earliest: '2026-11-25T10:10:00Z',
        latest: '2026-11-25T10:25:00Z'
      },
      basis: BASIS
    };
    plan.sites[1].queue = {
      position: 1,
      ahead: 0,
      estimated_start: null,
      basis: "1st in Local resources' queue; no job admitted there lately"
    };
    const host = await rendered(plan);
    const [leonardo, local] = Array.from(
      host.querySelectorAll('.aiinfn-PlanSites-queue')
    );
    expect(leonardo.textContent).toBe(
      `expected to start in 10 to 25 min: ${BASIS}`
    );
    expect(leonardo.getAttribute('data-position')).toBe('3');
    expect(local.textContent).toContain('no estimate of when it starts');
  });

  it('shows nothing more for a plan without estimates', async () => {
    const host = await rendered(makeJob().plan);
    expect(host.querySelector('.aiinfn-PlanSites-queue')).toBeNull();
  });
});

describe('a site skipped for its wait', () => {
  it('reads among the sites ruled out, with the reason', async () => {
    const { plan } = makeJob();
    const reason = 'skipped: expected start in 2 h, Local resources free now';
    plan.sites = [
      {
        name: 'local',
        display_name: 'Local resources',
        reason:
          'fallback for GPU jobs that can be offloaded, tried first because CINECA Leonardo is ruled out'
      }
    ];
    plan.ruled_out = [
      { name: 'leonardo', display_name: 'CINECA Leonardo', reason }
    ];
    const host = await rendered(plan);
    const sites = host.querySelectorAll('.aiinfn-PlanSites li');
    expect(Array.from(sites).map(li => li.getAttribute('data-site'))).toEqual([
      'local'
    ]);
    const skipped = host.querySelector(
      '.aiinfn-RuledOut [data-site="leonardo"]'
    );
    expect(skipped?.textContent).toBe(`Not CINECA Leonardo: ${reason}`);
  });
});

describe('start words', () => {
  it('rounds as the jobs service does', () => {
    expect(spanText(600, 1500)).toBe('10 to 25 min');
    expect(spanText(3 * 3600, 3 * 3600)).toBe('3 h');
    expect(spanText(3600, 5 * 3600)).toBe('1 to 5 h');
    expect(spanText(0, 3 * 86400)).toBe('0 to 3 days');
  });

  it('says within a minute when the job would start now', () => {
    const queue = {
      position: 1,
      ahead: 0,
      estimated_start: {
        earliest: '2026-11-25T10:00:00Z',
        latest: '2026-11-25T10:00:20Z'
      },
      basis: 'room for it now'
    };
    expect(startText(queue, NOW)).toBe('expected to start within a minute');
  });
});
