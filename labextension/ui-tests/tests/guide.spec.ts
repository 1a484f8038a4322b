/**
 * What guides a newcomer: the launch dialog checks each field as it is typed, with limits
 * from the sites; the panel reads well at JupyterLab's default sidebar width; a first-run
 * hint, tooltips and a Launcher card lead to the feature.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

import {
  api,
  HINT_SEEN,
  cancelInDetail,
  notebook,
  runFromFileBrowser,
  screenshot
} from './helpers';

const HINT_TEXT = 'New: "Run as background job"';
/** JupyterLab's default width of the left sidebar's panels. */
const DEFAULT_SIDEBAR = 250;

/** The panel's sidebar tab. */
function panelTab(page: IJupyterLabPageFixture): Locator {
  return page.locator('.jp-SideBar [data-id="aiinfn-hub-jobs"]');
}

/**
 * Nothing is cut off at the side, and short phrases (a badge, a state, a time, an amount of
 * a site) are never broken into a narrow column.
 */
async function expectReadable(panel: Locator): Promise<void> {
  const layout = await panel.evaluate(node => {
    const phrases = node.querySelectorAll<HTMLElement>(
      '.aiinfn-Detail-meta > *, .aiinfn-JobRow-meta > *, .aiinfn-Attempt-head > *, .aiinfn-SiteBadge, .aiinfn-State, .aiinfn-Header > *, .aiinfn-Site-capacity li, .aiinfn-Why-layer, .aiinfn-Why-reason'
    );
    const broken = [...phrases]
      .filter(el => el.getClientRects().length > 0)
      .filter(el => {
        const line = parseFloat(getComputedStyle(el).lineHeight) || 18;
        return el.getBoundingClientRect().height > line * 1.6;
      })
      .map(el => `${el.className}: ${el.textContent}`);
    const right = node.getBoundingClientRect().right;
    const cut = [...node.querySelectorAll<HTMLElement>('*')]
      .filter(el => el.getClientRects().length > 0)
      .filter(el => el.getBoundingClientRect().right > right + 0.5)
      .map(el =>
        `${el.tagName}.${el.className}: ${el.textContent}`.slice(0, 80)
      );
    return { overflow: node.scrollWidth - node.clientWidth, broken, cut };
  });
  expect(layout).toEqual({ overflow: 0, broken: [], cut: [] });
}

test.describe('the launch dialog', () => {
  test.use(HINT_SEEN);

  test('checks each field as it is typed, with the limits of the sites', async ({
    page,
    tmpPath
  }, testInfo) => {
    await page.contents.uploadContent(
      "print('checked')\n",
      'text',
      `${tmpPath}/check.py`
    );
    const dialog = await runFromFileBrowser(page, 'check.py');
    const submit = dialog.getByRole('button', {
      name: 'Submit the background job'
    });
    const plan = dialog.locator('.aiinfn-Launch-plan');
    await expect(plan).toBeVisible();
    await expect(plan).not.toHaveClass(/aiinfn-mod-stale/);
    await expect(submit).toBeEnabled();

    // The GPU model: "any", or a model of the sites with what is free.
    const model = dialog.getByLabel('GPU model');
    const options = model.locator('option');
    await expect(options.first()).toHaveText('any');
    await expect(model.locator('option[value="A100"]')).toHaveText(
      /^A100: \d+ of 36 free$/
    );
    await expect(model.locator('option[value="A100-MIG-1g.10gb"]')).toHaveText(
      /^A100-MIG-1g\.10gb \(MIG slices\): \d+ of 7 free$/
    );
    await model.selectOption('A100');

    // A model without GPUs asked for is wrong, in the label's words.
    const modelField = dialog.locator('[data-field="gpuModel"]');
    await expect(modelField).toHaveClass(/aiinfn-mod-invalid/);
    await expect(modelField.locator('.aiinfn-Field-error')).toHaveText(
      'GPU model: set GPUs to 1 or more to ask for a model, or choose any'
    );
    await expect(submit).toBeDisabled();

    // More GPUs than any site gives one job: what the largest site gives.
    const gpus = dialog.getByLabel('GPUs', { exact: true });
    await gpus.fill('8');
    await expect(modelField).not.toHaveClass(/aiinfn-mod-invalid/);
    const gpuField = dialog.locator('[data-field="gpus"]');
    await expect(gpuField).toHaveClass(/aiinfn-mod-invalid/);
    await expect(gpus).toHaveAttribute('aria-invalid', 'true');
    await expect(gpuField.locator('.aiinfn-Field-error')).toHaveText(
      'GPUs: the largest site, CINECA Leonardo, offers at most 4 A100 GPUs to one job'
    );
    await expect(submit).toBeDisabled();
    // The last valid plan stays on screen, greyed, with why.
    await expect(plan).toHaveClass(/aiinfn-mod-stale/);
    await expect(plan.locator('.aiinfn-PlanSites li')).not.toHaveCount(0);
    await expect(dialog.locator('.aiinfn-Launch-stale')).toHaveText(
      'Fix the marked fields to see where it would run.'
    );

    // Two wrong fields at once; Enter does not submit.
    const cpu = dialog.getByLabel('CPUs');
    await cpu.fill('lots');
    await expect(
      dialog.locator('[data-field="cpu"] .aiinfn-Field-error')
    ).toHaveText('CPUs must be a number of cores, such as 2, 0.5 or 500m');
    await screenshot(
      page.locator('.aiinfn-LaunchDialog .jp-Dialog-content'),
      'launch-check.png',
      testInfo.outputDir
    );
    await cpu.press('Enter');
    await expect(dialog).toBeVisible();
    // No message names an API field.
    await expect(dialog.locator('.aiinfn-Field-error').first()).not.toHaveText(
      /resources\.|gpu_model/
    );

    // Fixed: the marks and messages go, Submit comes back, the plan is fresh.
    await cpu.fill('2');
    await gpus.fill('2');
    await expect(dialog.locator('.aiinfn-mod-invalid')).toHaveCount(0);
    await expect(dialog.locator('.aiinfn-Field-error')).toHaveCount(0);
    await expect(submit).toBeEnabled();
    await expect(plan).not.toHaveClass(/aiinfn-mod-stale/);
    await expect(dialog.locator('[data-detected="gpu"]')).toHaveText(
      'GPU: yes (asks for 2 A100 GPUs)'
    );
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toBeHidden();
  });
});

test.describe('the panel at the default sidebar width', () => {
  test.use(HINT_SEEN);

  test('reads well: no overflow, whole phrases, no repeated labels, MIG apart, running jobs waiting for output', async ({
    page,
    request,
    tmpPath
  }, testInfo) => {
    await page.contents.uploadContent(
      'sleep 600\n',
      'text',
      `${tmpPath}/quiet-training-run-with-a-long-name.sh`
    );
    const submitted = await api(request, 'POST', 'jobs', {
      path: `${tmpPath}/quiet-training-run-with-a-long-name.sh`,
      local_only: true
    });
    expect(submitted.status).toBe(201);

    await panelTab(page).click();
    const panel = page.locator('#aiinfn-hub-jobs');
    await expect(panel).toBeVisible();
    // JupyterLab's own default width: the test does not widen the sidebar.
    expect(Math.round((await panel.boundingBox())!.width)).toBe(
      DEFAULT_SIDEBAR
    );

    // The site overview counts MIG slices apart from whole GPUs.
    const local = panel.locator('.aiinfn-Site[data-site="local"]');
    await expect(local.locator('.aiinfn-Site-capacity li')).toHaveText([
      /^\d+ of 10 GPUs free$/,
      /^\d+ of 7 MIG slices free$/,
      /^[\d.]+ of [\d.]+ CPUs free$/
    ]);

    // A running job that has written nothing yet says so.
    const row = panel.locator(
      `.aiinfn-JobRow[data-job-id="${submitted.data.id}"]`
    );
    await expect(row).toHaveAttribute('data-state', 'running', {
      timeout: 120000
    });
    await row.locator('.aiinfn-JobRow-button').click();
    const detail = panel.locator('.aiinfn-Detail');
    await expect(detail.locator('.aiinfn-Log-note')).toHaveText(
      'Running; waiting for its output.'
    );
    await expect(detail.locator('[data-detected="offloadable"]')).toHaveText(
      /^Offloadable: (yes|no)( \((?!offloadable|not offloadable)[^)]+\))?$/
    );
    await expect(detail.locator('[data-detected="gpu"]')).toHaveText(
      'GPU: no (asks for CPUs only)'
    );
    await expectReadable(panel);
    // Each layer's raw words, opened, fit the default width too.
    await detail.locator('.aiinfn-Why-details summary').click();
    await expect(detail.locator('.aiinfn-Why-item').first()).toBeVisible();
    await expectReadable(panel);

    await cancelInDetail(
      page,
      detail,
      'quiet-training-run-with-a-long-name.sh'
    );
    await detail.getByRole('button', { name: 'Back to all jobs' }).click();
    await expect(local).toBeVisible();
    await expectReadable(panel);
    await screenshot(panel, 'panel-narrow.png', testInfo.outputDir);
  });
});

test.describe('finding the feature', () => {
  test('the first time, a hint points at the panel; once only', async ({
    page
  }) => {
    const toast = page
      .locator('.Toastify__toast')
      .filter({ hasText: HINT_TEXT });
    await expect(toast).toBeVisible();
    await expect(toast).toContainText('Run as background job');
    await expect(panelTab(page)).toHaveClass(/aiinfn-mod-hint/);
    await toast.getByRole('button', { name: 'Show Background jobs' }).click();
    await expect(page.locator('#aiinfn-hub-jobs')).toBeVisible();
    await expect(panelTab(page)).not.toHaveClass(/aiinfn-mod-hint/);

    // Remembered in JupyterLab's state (the workspace), so a reload shows it no more.
    await expect
      .poll(() =>
        page.evaluate(async () => {
          const response = await fetch('/lab/api/workspaces/default');
          const workspace = await response.json();
          return !!workspace.data?.['aiinfn-hub:first-run-hint'];
        })
      )
      .toBe(true);
    await page.reload();
    await expect(panelTab(page)).toBeVisible();
    await expect(page.locator('.Toastify__toast')).toHaveCount(0);
    await expect(panelTab(page)).not.toHaveClass(/aiinfn-mod-hint/);
  });

  test.describe('once the hint was seen', () => {
    test.use(HINT_SEEN);

    test('the panel tab and the toolbar button have tooltips; the Launcher has a card', async ({
      page,
      tmpPath
    }) => {
      await expect(
        page.locator('.Toastify__toast').filter({ hasText: HINT_TEXT })
      ).toHaveCount(0);
      await expect(panelTab(page)).toHaveAttribute(
        'title',
        'Background jobs: where your jobs run, their fallbacks and logs'
      );

      await page.contents.uploadContent(
        notebook("print('from the launcher')"),
        'text',
        `${tmpPath}/card.ipynb`
      );
      await page.notebook.openByPath(`${tmpPath}/card.ipynb`);
      const button = page.locator(
        '.jp-NotebookPanel-toolbar [data-command="aiinfn-hub:run-as-job"]'
      );
      await expect(button).toHaveAttribute(
        'title',
        /^Run as background job: it keeps running when you close JupyterLab/
      );

      // The Launcher's card asks for a file, then opens the dialog on it.
      await page.evaluate(async () => {
        await (window as any).jupyterapp.commands.execute('launcher:create');
      });
      const card = page
        .locator('.jp-LauncherCard')
        .filter({ hasText: 'Background Job', visible: true });
      await expect(card).toBeVisible();
      await expect(card).toContainText('Background Job');
      await expect(card).toHaveAttribute(
        'title',
        'Choose a notebook, Python or shell script to run as a background job'
      );
      await card.click();
      const picker = page.locator('.jp-Dialog').filter({
        hasText: 'Choose a notebook (.ipynb), Python script (.py)'
      });
      await expect(picker).toBeVisible();
      await picker
        .locator('.jp-DirListing-item', { hasText: 'card.ipynb' })
        .click();
      await picker.getByRole('button', { name: 'Select' }).click();
      const dialog = page.locator('.aiinfn-LaunchDialog');
      await expect(dialog).toContainText(`${tmpPath}/card.ipynb`);
      await dialog.getByRole('button', { name: 'Cancel' }).click();
    });
  });
});
