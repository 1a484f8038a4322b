/**
 * Helpers for the browser tests: files to run, the sandbox's fault switches, the panel.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { IJupyterLabPageFixture } from '@jupyterlab/galata';
import { APIRequestContext, expect, Locator } from '@playwright/test';

/**
 * Test options for a JupyterLab whose state says the first-run hint was shown already (the
 * workspace is not reset on opening, which would forget it).
 */
export const HINT_SEEN = {
  mockState: { 'aiinfn-hub:first-run-hint': { shown: 'before this test' } },
  resetWorkspace: false
};

/** A notebook whose one code cell is `source`. */
export function notebook(source: string): string {
  return JSON.stringify({
    cells: [
      {
        cell_type: 'code',
        execution_count: null,
        metadata: {},
        outputs: [],
        source
      }
    ],
    metadata: {
      kernelspec: {
        display_name: 'Python 3',
        language: 'python',
        name: 'python3'
      },
      language_info: { name: 'python' }
    },
    nbformat: 4,
    nbformat_minor: 5
  });
}

/** The sandbox's kubeconfig, written by the server extension in standalone mode. */
export function kubeconfig(): string {
  const state = process.env.AIINFN_UI_STATE;
  if (!state) {
    throw new Error(
      'AIINFN_UI_STATE is not set: run through playwright.config.js'
    );
  }
  return path.join(state, 'standalone', 'sandbox', 'kubeconfig');
}

/** Switch a fault of the sandbox with `aiinfn-hub sandbox fault ...`. */
export function sandboxFault(...args: string[]): string {
  const file = kubeconfig();
  if (!fs.existsSync(file)) {
    throw new Error(
      `no sandbox kubeconfig at ${file}: is the server in standalone mode?`
    );
  }
  return execFileSync(
    process.env.AIINFN_PYTHON ?? 'python3',
    ['-m', 'aiinfn_hub', 'sandbox', 'fault', ...args, '--kubeconfig', file],
    { encoding: 'utf-8' }
  );
}

/** Call the panel's REST API directly (what the panel calls), as the test's browser user. */
export async function api(
  request: APIRequestContext,
  method: 'GET' | 'POST' | 'DELETE',
  route: string,
  body?: unknown
): Promise<{ status: number; data: any }> {
  const response = await request.fetch(`/aiinfn-hub/api/${route}`, {
    method,
    data: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' }
  });
  return { status: response.status(), data: await response.json() };
}

/** Open the background jobs panel in the left sidebar, `width` pixels wide. */
export async function openPanel(
  page: IJupyterLabPageFixture,
  width = 400
): Promise<Locator> {
  const panel = page.locator('#aiinfn-hub-jobs');
  if (!(await panel.isVisible())) {
    await page.locator('.jp-SideBar [data-id="aiinfn-hub-jobs"]').click();
  }
  await expect(panel).toBeVisible();
  const box = await panel.boundingBox();
  if (box && box.width < width - 10) {
    // What dragging the splitter does: give the left area more of the width.
    await page.evaluate(wanted => {
      const split = (window as any).jupyterapp.shell._hsplitPanel;
      const total = split.node.getBoundingClientRect().width;
      split.setRelativeSizes([wanted, Math.max(total - wanted, 1), 0]);
    }, width);
    await expect
      .poll(async () => (await panel.boundingBox())?.width ?? 0)
      .toBeGreaterThan(width - 40);
  }
  return panel;
}

/** The file browser, shown in the left sidebar (where the panel also lives), on `name`. */
export async function showFile(
  page: IJupyterLabPageFixture,
  name: string
): Promise<Locator> {
  await page.sidebar.openTab('filebrowser');
  await page.filebrowser.refresh();
  const item = page.locator(`.jp-DirListing-item[title^="Name: ${name}"]`);
  await expect(item).toBeVisible();
  return item;
}

/** Right-click a file in the file browser and pick "Run as background job". */
export async function runFromFileBrowser(
  page: IJupyterLabPageFixture,
  name: string
): Promise<Locator> {
  const item = await showFile(page, name);
  await item.click({ button: 'right' });
  await page.getByRole('menuitem', { name: 'Run as background job' }).click();
  const dialog = page.locator('.aiinfn-LaunchDialog');
  await expect(dialog).toBeVisible();
  return dialog;
}

/** The job row of the panel's list with this job id. */
export function jobRow(panel: Locator, id: string): Locator {
  return panel.locator(`.aiinfn-JobRow[data-job-id="${id}"]`);
}

/** Submit the open launch dialog; the id of the job the panel then shows. */
export async function submit(
  page: IJupyterLabPageFixture,
  dialog: Locator
): Promise<string> {
  await dialog
    .getByRole('button', { name: 'Submit the background job' })
    .click();
  await expect(dialog).toBeHidden();
  const detail = page.locator('#aiinfn-hub-jobs .aiinfn-Detail');
  await expect(detail).toBeVisible();
  const id = await detail.getAttribute('data-job-id');
  expect(id).toBeTruthy();
  return id as string;
}

/** Where screenshots go: the test's output, and `AIINFN_SCREENSHOTS_DIR` when set. */
export async function screenshot(
  target: Locator,
  name: string,
  outputDir: string
) {
  const files = [path.join(outputDir, name)];
  const keep = process.env.AIINFN_SCREENSHOTS_DIR;
  if (keep) {
    files.push(path.resolve(keep, name));
  }
  for (const file of files) {
    await target.screenshot({ path: file, animations: 'disabled' });
  }
}

/** Cancel the job the detail view shows, confirm, and see it cancelled. */
export async function cancelInDetail(
  page: IJupyterLabPageFixture,
  detail: Locator,
  name: string
): Promise<void> {
  await detail.getByRole('button', { name: `Cancel job ${name}` }).click();
  await page
    .locator('.jp-Dialog')
    .getByRole('button', { name: 'Cancel job' })
    .click();
  await expect(detail.locator('.aiinfn-Detail-meta .aiinfn-State')).toHaveText(
    'Cancelled'
  );
}
