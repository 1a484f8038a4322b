/**
 * The background jobs panel in a real JupyterLab, on the sandbox cluster (standalone mode).
 */
import { expect, galata, test } from '@jupyterlab/galata';

import {
  api,
  HINT_SEEN,
  cancelInDetail,
  jobRow,
  notebook,
  openPanel,
  runFromFileBrowser,
  sandboxFault,
  screenshot,
  showFile,
  submit
} from './helpers';

const GPU_NOTEBOOK = notebook(
  "import os\nprint('training on', os.environ.get('HOSTNAME', 'a node'))\nprint('epoch 1 loss 0.42')"
);
const CPU_NOTEBOOK = notebook(
  "for i in range(3):\n    print('analysis step', i)"
);
const LONG_SCRIPT = 'echo "started the long job"\nsleep 600\n';

test.describe('background jobs', () => {
  test.use(HINT_SEEN);
  test('a GPU notebook submitted from the file browser runs on CINECA Leonardo', async ({
    page,
    tmpPath
  }, testInfo) => {
    await page.contents.uploadContent(
      GPU_NOTEBOOK,
      'text',
      `${tmpPath}/train-gpu.ipynb`
    );
    const dialog = await runFromFileBrowser(page, 'train-gpu.ipynb');

    // The profile asks for no GPU: the preview says so, and why.
    await expect(dialog.locator('[data-detected="gpu"]')).toContainText(
      'GPU: no'
    );
    // A user reads the dialog before typing: by then it has the sites' models.
    await expect(
      dialog.getByLabel('GPU model').locator('option[value="A100"]')
    ).toHaveCount(1);
    const gpus = dialog.getByLabel('GPUs');
    await gpus.fill('1');
    await expect(gpus).toHaveValue('1');
    await expect(dialog.locator('[data-detected="gpu"]')).toHaveText(
      'GPU: yes (asks for 1 GPU)'
    );
    // The label says the verdict once; the reason follows it without repeating it.
    await expect(dialog.locator('[data-detected="offloadable"]')).toHaveText(
      'Offloadable: yes (needs no shared volume and no inbound network)'
    );
    const preview = dialog.locator('.aiinfn-PlanSites li');
    await expect(preview.first()).toHaveAttribute('data-site', 'leonardo');
    await expect(preview.nth(1)).toHaveAttribute('data-site', 'local');
    // Each site says where the job would stand in its queue and when it would start.
    const queue = preview.first().locator('.aiinfn-PlanSites-queue');
    await expect(queue).toContainText("in CINECA Leonardo's queue");
    await expect(queue).toContainText(/expected to start|no estimate/);
    await expect(
      preview.nth(1).locator('.aiinfn-PlanSites-queue')
    ).toContainText("in Local resources' queue");
    await expect(
      dialog.locator('.aiinfn-RuledOut li[data-site="tier1"]')
    ).toContainText('has no GPUs');
    await screenshot(
      page.locator('.aiinfn-LaunchDialog .jp-Dialog-content'),
      'launch.png',
      testInfo.outputDir
    );

    const id = await submit(page, dialog);
    const panel = await openPanel(page);
    const detail = panel.locator('.aiinfn-Detail');
    await expect(detail.locator('.aiinfn-Detail-title')).toHaveText(
      'train-gpu.ipynb'
    );
    await expect(
      detail.locator('.aiinfn-Detail-meta .aiinfn-SiteBadge')
    ).toHaveText('CINECA Leonardo');
    await expect(
      detail.locator('.aiinfn-Detail-meta .aiinfn-State')
    ).toHaveText('Succeeded', { timeout: 180000 });
    const attempts = detail.locator('.aiinfn-Attempt');
    await expect(attempts).toHaveCount(1);
    await expect(attempts.first()).toHaveAttribute('data-site', 'leonardo');
    await expect(attempts.first()).toHaveAttribute('data-outcome', 'succeeded');
    await expect(detail.locator('.aiinfn-LogText')).toContainText(
      'epoch 1 loss 0.42'
    );
    await screenshot(panel, 'detail.png', testInfo.outputDir);

    await detail.getByRole('button', { name: 'Back to all jobs' }).click();
    const row = jobRow(panel, id);
    await expect(row).toHaveAttribute('data-state', 'succeeded');
    await expect(row.locator('.aiinfn-SiteBadge')).toHaveText(
      'CINECA Leonardo'
    );
    await expect(row.locator('.aiinfn-JobRow-time')).toContainText('ended');

    // "Rerun at..." a site that cannot run it: the server's refusal, in its words.
    await row.locator('.aiinfn-JobRow-button').click();
    await detail
      .getByRole('button', {
        name: 'Rerun job train-gpu.ipynb at a site you choose'
      })
      .click();
    await detail.getByLabel('Site to rerun at').selectOption('tier1');
    await detail.getByRole('button', { name: 'Rerun there' }).click();
    const refusal = page.locator('.jp-Dialog');
    await expect(refusal).toContainText(
      'this job cannot run at tier1: has no GPUs'
    );
    await refusal.getByRole('button', { name: 'Close' }).click();
    await expect(detail).toHaveAttribute('data-job-id', id);
  });

  test('a fault on CNAF Tier-1 makes a job fall back to Local, and the timeline says why', async ({
    page,
    tmpPath
  }, testInfo) => {
    sandboxFault(
      'provider-failure',
      'tier1',
      '--message',
      'HTCondor schedd unreachable: connection refused'
    );
    try {
      await page.contents.uploadContent(
        CPU_NOTEBOOK,
        'text',
        `${tmpPath}/analysis.ipynb`
      );
      // From the notebook toolbar this time.
      await page.notebook.openByPath(`${tmpPath}/analysis.ipynb`);
      const panel = await openPanel(page);
      await page
        .locator(
          '.jp-NotebookPanel-toolbar [data-command="aiinfn-hub:run-as-job"]'
        )
        .click();
      const dialog = page.locator('.aiinfn-LaunchDialog');
      await expect(
        dialog.locator('.aiinfn-PlanSites li').first()
      ).toHaveAttribute('data-site', 'tier1');
      const id = await submit(page, dialog);

      const detail = panel.locator('.aiinfn-Detail');
      const first = detail.locator('.aiinfn-Attempt[data-site="tier1"]');
      await expect(first).toHaveAttribute('data-outcome', 'fell_back', {
        timeout: 180000
      });
      await expect(first.locator('.aiinfn-Attempt-reason')).toContainText(
        'the remote submission failed: HTCondor schedd unreachable'
      );
      // Kueue's and the site's own words, on demand.
      const raw = first.locator('.aiinfn-Attempt-raw');
      await expect(raw.locator('code').first()).toBeHidden();
      await raw.locator('summary').click();
      // Kueue's condition as the workload had it then (Admitted, or Finished when the Job failed).
      await expect(raw.locator('code[data-raw="kueue"]')).toHaveText(
        /^Kueue: (Admitted|Finished)=True: /
      );
      await expect(raw.locator('code[data-raw="pod"]')).toContainText(
        'ProviderFailed: HTCondor schedd unreachable: connection refused (exit code 1)'
      );

      await expect(
        detail.locator('.aiinfn-Attempt[data-site="local"]')
      ).toBeVisible();
      await expect(
        detail.locator('.aiinfn-Detail-meta .aiinfn-SiteBadge')
      ).toHaveText('Local');
      await expect(detail.locator('.aiinfn-Detail-fallback')).toContainText(
        'CNAF Tier-1: the remote submission failed'
      );
      await expect(detail.locator('.aiinfn-Detail-fallback')).toContainText(
        'now on Local'
      );
      // A notification tells about the fallback, with an action that opens the job.
      const toast = page
        .locator('.Toastify__toast')
        .filter({ hasText: 'fell back' });
      await expect(toast.first()).toBeVisible();

      await expect(
        detail.locator('.aiinfn-Detail-meta .aiinfn-State')
      ).toHaveText('Succeeded', { timeout: 180000 });
      await expect(detail.locator('.aiinfn-LogText')).toContainText(
        'analysis step 2'
      );
      await screenshot(panel, 'fallback.png', testInfo.outputDir);

      await detail.getByRole('button', { name: 'Back to all jobs' }).click();
      await expect(
        jobRow(panel, id).locator('.aiinfn-JobRow-summary')
      ).toContainText('now on Local');
      await screenshot(panel, 'panel.png', testInfo.outputDir);
    } finally {
      sandboxFault('provider-failure', 'tier1', '--off');
    }
  });

  test('a running job can be cancelled from the palette-launched detail view', async ({
    page,
    tmpPath
  }) => {
    await page.contents.uploadContent(
      LONG_SCRIPT,
      'text',
      `${tmpPath}/long-run.sh`
    );
    await (await showFile(page, 'long-run.sh')).click();
    // From the command palette.
    await page.keyboard.press('Control+Shift+C');
    await page
      .locator('.lm-CommandPalette-input')
      .fill('Run as Background Job');
    await page.keyboard.press('Enter');
    const dialog = page.locator('.aiinfn-LaunchDialog');
    await expect(dialog).toContainText('long-run.sh');
    await dialog.getByLabel('Keep it on local resources').check();
    await expect(dialog.locator('.aiinfn-PlanSites li')).toHaveCount(1);
    await expect(
      dialog.locator('.aiinfn-PlanSites li').first()
    ).toHaveAttribute('data-site', 'local');
    await submit(page, dialog);

    const panel = await openPanel(page);
    const detail = panel.locator('.aiinfn-Detail');
    await expect(
      detail.locator('.aiinfn-Detail-meta .aiinfn-State')
    ).toHaveText('Running', {
      timeout: 120000
    });
    await expect(detail.locator('.aiinfn-LogText')).toContainText(
      'started the long job'
    );
    await cancelInDetail(page, detail, 'long-run.sh');
    // Why, in one sentence; each layer's own words one click away.
    const why = detail.locator('.aiinfn-Why');
    await expect(why.locator('.aiinfn-Why-sentence')).toHaveText(
      /^Cancelled by you/
    );
    const layers = why.locator('details.aiinfn-Why-details');
    await expect(layers).not.toHaveAttribute('open', '');
    await expect(layers.locator('.aiinfn-Why-list')).toBeHidden();
    await layers.locator('summary').click();
    await expect(
      layers.locator('.aiinfn-Why-item[data-layer="service"]')
    ).toContainText('cancelled by you');
    await expect(
      detail.getByRole('button', { name: 'Cancel job long-run.sh' })
    ).toHaveCount(0);
    const cancelled = await detail.getAttribute('data-job-id');

    // Rerun it on Local: a new job, which opens, runs, and is cancelled in turn.
    await detail
      .getByRole('button', {
        name: 'Rerun job long-run.sh at a site you choose'
      })
      .click();
    await detail.getByLabel('Site to rerun at').selectOption('local');
    await detail.getByRole('button', { name: 'Rerun there' }).click();
    await expect(detail).not.toHaveAttribute(
      'data-job-id',
      cancelled as string
    );
    await expect(detail.locator('.aiinfn-PlanSites li')).toHaveCount(1);
    await expect(detail.locator('.aiinfn-PlanSites li').first()).toContainText(
      'the site you asked for'
    );
    await expect(
      detail.locator('.aiinfn-Detail-meta .aiinfn-State')
    ).toHaveText('Running', { timeout: 120000 });
    await cancelInDetail(page, detail, 'long-run.sh');
  });

  test('server errors are shown in the server words (a Python script here)', async ({
    page,
    request,
    tmpPath
  }) => {
    await page.contents.uploadContent(
      "print('never runs')\n",
      'text',
      `${tmpPath}/bad.py`
    );
    const dialog = await runFromFileBrowser(page, 'bad.py');
    await expect(dialog).toContainText('Run the python');
    // Each field is within what some site gives one job, but no site gives all of it.
    await dialog.getByLabel('CPUs').fill('20');
    await dialog.getByLabel('GPUs').fill('1');
    await dialog.getByLabel('Time limit').fill('2d');
    const expected = await api(request, 'POST', 'plan', {
      path: `${tmpPath}/bad.py`,
      resources: { cpu: '20', memory: '2Gi', gpus: 1 },
      walltime: '2d'
    });
    expect(expected.status).toBe(422);
    await expect(dialog.locator('.aiinfn-mod-invalid')).toHaveCount(0);
    await expect(
      dialog.locator('.aiinfn-Launch-preview [role="alert"]')
    ).toHaveText(expected.data.error);
    // Submitting keeps the dialog open with the server's refusal.
    await dialog
      .getByRole('button', { name: 'Submit the background job' })
      .click();
    await expect(dialog.locator('.aiinfn-Launch-error')).toHaveText(
      expected.data.error
    );
    await expect(dialog).toBeVisible();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });
});

test.describe('live updates and the site overview', () => {
  // Poll so rarely that only the event stream can bring changes during the test.
  test.use({
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      'aiinfn-hub:plugin': { pollInterval: 3600, notify: true }
    },
    ...HINT_SEEN
  });

  test('a job submitted elsewhere appears and progresses from the event stream', async ({
    page,
    request,
    tmpPath
  }) => {
    const panel = await openPanel(page);
    await expect(panel.locator('.aiinfn-Site')).toHaveCount(3);
    await page.contents.uploadContent(
      CPU_NOTEBOOK,
      'text',
      `${tmpPath}/elsewhere.ipynb`
    );
    const submitted = await api(request, 'POST', 'jobs', {
      path: `${tmpPath}/elsewhere.ipynb`,
      local_only: true
    });
    expect(submitted.status).toBe(201);
    const row = jobRow(panel, submitted.data.id);
    await expect(row).toBeVisible();
    await expect(row).toHaveAttribute('data-state', 'succeeded', {
      timeout: 180000
    });
    await expect(row.locator('.aiinfn-SiteBadge')).toHaveText('Local');
    const toast = page
      .locator('.Toastify__toast')
      .filter({ hasText: 'Job elsewhere.ipynb finished on Local' });
    await toast.first().getByRole('button', { name: 'Open job' }).click();
    await expect(
      panel.locator(`.aiinfn-Detail[data-job-id="${submitted.data.id}"]`)
    ).toBeVisible();

    // Its executed notebook came back next to it, and opens saved: nothing to save on close.
    const executed = `elsewhere.${submitted.data.id}.ipynb`;
    await panel
      .getByRole('button', { name: /^Open the executed notebook / })
      .click();
    const tab = page.locator(`.lm-TabBar-tab[data-type="document-title"]`, {
      hasText: executed
    });
    await expect(tab).toBeVisible();
    await expect(
      page.locator('.jp-NotebookPanel:visible .jp-OutputArea-output').first()
    ).toContainText('analysis step 0');
    await expect(
      page.locator('.jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator')
    ).toHaveAttribute('data-status', 'idle', { timeout: 60000 });
    await expect(tab).not.toHaveClass(/jp-mod-dirty/);
  });

  test('the site overview shows health, capacity and queues; the keyboard reaches jobs', async ({
    page
  }, testInfo) => {
    const panel = await openPanel(page);
    const leonardo = panel.locator('.aiinfn-Site[data-site="leonardo"]');
    await expect(leonardo.locator('.aiinfn-Site-name')).toHaveText(
      'CINECA Leonardo'
    );
    await expect(leonardo.locator('.aiinfn-Site-health')).toHaveText('OK');
    await expect(leonardo.locator('.aiinfn-Site-capacity')).toContainText(
      'GPUs free'
    );
    sandboxFault(
      'site-down',
      'leonardo',
      '--message',
      'Slurm maintenance until 18:00'
    );
    try {
      await panel
        .getByRole('button', { name: 'Refresh jobs and sites' })
        .click();
      await expect(leonardo.locator('.aiinfn-Site-health')).toContainText(
        'down:'
      );
      await expect(leonardo.locator('.aiinfn-Site-queue')).toContainText(
        'waiting'
      );
    } finally {
      sandboxFault('site-down', 'leonardo', '--off');
    }
    await panel.getByRole('button', { name: 'Refresh jobs and sites' }).click();
    await expect(leonardo.locator('.aiinfn-Site-health')).toHaveText('OK');

    // Keyboard: focus the first job and open it with Enter; Shift+Tab reaches the way back.
    const first = panel.locator('.aiinfn-JobRow-button').first();
    await first.focus();
    await page.keyboard.press('Enter');
    const detail = panel.locator('.aiinfn-Detail');
    await expect(detail).toBeVisible();
    await expect(detail.locator('.aiinfn-Detail-title')).toBeFocused();
    await page.keyboard.press('Shift+Tab');
    await expect(
      detail.getByRole('button', { name: 'Back to all jobs' })
    ).toBeFocused();

    // Dark theme.
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('apputils:change-theme', {
        theme: 'JupyterLab Dark'
      })
    );
    await expect(page.locator('body')).toHaveAttribute(
      'data-jp-theme-light',
      'false'
    );
    await screenshot(panel, 'detail-dark.png', testInfo.outputDir);
  });
});
