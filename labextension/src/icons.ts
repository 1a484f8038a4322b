import { LabIcon } from '@jupyterlab/ui-components';

import jobsSvg from '../style/icons/jobs.svg';

/** The panel's icon: a rack with a play mark (an SVG, so every theme and font draws it). */
export const jobsIcon = new LabIcon({
  name: 'aiinfn-hub:jobs',
  svgstr: jobsSvg
});
