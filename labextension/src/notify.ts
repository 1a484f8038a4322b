/**
 * Notifications when a job finishes, fails or falls back, each with an action to open it.
 */
import { Notification } from '@jupyterlab/apputils';

import { siteBadge } from './format';
import { IJob } from './api';
import { ITransition } from './model';

export interface INotice {
  message: string;
  type: 'success' | 'error' | 'warning';
}

/** The words and kind of the notification for a transition. */
export function noticeFor({ job, kind }: ITransition): INotice {
  const where = siteBadge(job.site, job.site_display).label;
  switch (kind) {
    case 'succeeded':
      return {
        message: `Job ${job.name} finished on ${where}.`,
        type: 'success'
      };
    case 'failed':
      return {
        message: `Job ${job.name} failed on ${where}: ${job.reason ?? 'see its timeline'}`,
        type: 'error'
      };
    case 'fell_back':
      return {
        message:
          `Job ${job.name} fell back. ${job.fallback || job.reason || ''}`.trim(),
        type: 'warning'
      };
  }
}

/** Show the notification, with an "Open job" action that calls `open(job id)`. */
export function notifyTransition(
  transition: ITransition,
  open: (jobId: string) => void
): string {
  const notice = noticeFor(transition);
  return Notification.emit(notice.message, notice.type, {
    autoClose: notice.type === 'success' ? 8000 : 15000,
    actions: [
      {
        label: 'Open job',
        caption: `Show job ${transition.job.name} in the background jobs panel`,
        callback: () => open(transition.job.id)
      }
    ]
  });
}

/** Tell that a job's executed notebook came back, with an action that opens it. */
export function notifyNotebook(
  job: IJob,
  path: string,
  open: (path: string) => void
): string {
  return Notification.emit(
    `The executed notebook of job ${job.name} is saved as ${path}.`,
    'info',
    {
      autoClose: 10000,
      actions: [
        {
          label: 'Open notebook',
          caption: `Open ${path}`,
          callback: () => open(path)
        }
      ]
    }
  );
}
