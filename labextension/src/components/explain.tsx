/**
 * Why a job waits, runs or failed: the one sentence the service writes from every layer
 * that knows (Kueue, the remote site, the node's connection, the pod), with each layer's raw
 * words one click away.
 */
import * as React from 'react';

import { IJob } from '../api';

/** Each layer as the screen names it. */
const LAYERS: Record<string, string> = {
  kueue: 'Queue (Kueue)',
  site: 'Remote site',
  node: 'Node',
  pod: 'Pod',
  service: 'Jobs service'
};

/** The layer's name on screen (its own word for a layer this panel does not know). */
export function layerLabel(layer: string): string {
  return LAYERS[layer] ?? layer;
}

/** The sentence, and the raw details behind it in a closed `<details>`. */
export function Why(props: { job: IJob }): JSX.Element {
  const { job } = props;
  const explanation = job.explanation;
  if (!explanation) {
    return <p className="aiinfn-Detail-reason">{job.reason}</p>;
  }
  return (
    <div
      className="aiinfn-Detail-reason aiinfn-Why"
      data-layer={explanation.layer}
    >
      <p className="aiinfn-Why-sentence">{explanation.sentence}</p>
      {explanation.details.length > 0 && (
        <details className="aiinfn-Why-details aiinfn-Attempt-raw">
          <summary>
            Details from each layer ({layerLabel(explanation.layer)} explains
            it)
          </summary>
          <dl className="aiinfn-Why-list">
            {explanation.details.map((detail, index) => (
              <div
                key={index}
                className="aiinfn-Why-item"
                data-layer={detail.layer}
              >
                <dt>
                  <span className="aiinfn-Why-layer">
                    {layerLabel(detail.layer)}
                  </span>{' '}
                  <span className="aiinfn-Why-source">{detail.source}</span>
                </dt>
                <dd>
                  <span className="aiinfn-Why-reason">{detail.reason}</span>
                  {detail.message && (
                    <span className="aiinfn-Why-message">{detail.message}</span>
                  )}
                </dd>
              </div>
            ))}
          </dl>
        </details>
      )}
    </div>
  );
}
