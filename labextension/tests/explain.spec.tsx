import { ReactWidget } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { Why } from '../src/components/explain';
import { makeJob, waitFor } from './fixtures';

const PING = 'Ping to InterLink API failed: status 503';

/** The component rendered on the page, as the panel renders it. */
async function render(element: JSX.Element): Promise<HTMLElement> {
  const widget = ReactWidget.create(element);
  Widget.attach(widget, document.body);
  await waitFor(() => widget.node.textContent !== '', 5000, 'the render');
  return widget.node;
}

describe('Why', () => {
  it('shows the sentence, with each layer’s raw words one click away', async () => {
    const job = makeJob({
      owner: 'Maria.Rossi@infn.it',
      state: 'admitted',
      reason: 'admitted at CINECA Leonardo, waiting for it to start',
      explanation: {
        sentence: `Admitted at CINECA Leonardo: the connection to the site is lost (${PING}).`,
        layer: 'node',
        details: [
          {
            layer: 'kueue',
            source: 'Workload condition Admitted',
            reason: 'Admitted',
            message: 'The workload is admitted'
          },
          {
            layer: 'node',
            source:
              'Node vk-leonardo-01.cineca.it condition InterlinkConnectivity',
            reason: 'InterlinkPingFailed',
            message: PING
          }
        ]
      }
    });
    const node = await render(<Why job={job} />);
    const sentence = node.querySelector('.aiinfn-Why-sentence')!;
    expect(sentence.textContent).toBe(
      `Admitted at CINECA Leonardo: the connection to the site is lost (${PING}).`
    );
    const details = node.querySelector('details')!;
    expect(details.open).toBe(false);
    expect(details.querySelector('summary')!.textContent).toContain(
      'Node explains it'
    );
    const rows = [...details.querySelectorAll('.aiinfn-Why-item')].map(item =>
      [
        '.aiinfn-Why-layer',
        '.aiinfn-Why-source',
        '.aiinfn-Why-reason',
        '.aiinfn-Why-message'
      ].map(part => item.querySelector(part)?.textContent)
    );
    expect(rows).toEqual([
      [
        'Queue (Kueue)',
        'Workload condition Admitted',
        'Admitted',
        'The workload is admitted'
      ],
      [
        'Node',
        'Node vk-leonardo-01.cineca.it condition InterlinkConnectivity',
        'InterlinkPingFailed',
        PING
      ]
    ]);
    // one click opens them
    (details.querySelector('summary') as HTMLElement).click();
    expect(details.open).toBe(true);
  });

  it('falls back on the reason for a view without an explanation', async () => {
    const node = await render(
      <Why job={makeJob({ reason: 'queued at CNAF Tier-1' })} />
    );
    expect(node.textContent).toBe('queued at CNAF Tier-1');
    expect(node.querySelector('details')).toBeNull();
  });
});
