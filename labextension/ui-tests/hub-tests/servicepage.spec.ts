/**
 * The jobs service's own page in Chromium, reached as a user reaches it: JupyterHub's
 * Services menu links to /services/aiinfn-jobs/, which shows what the service is, the user's
 * jobs, a link to JupyterLab's panel and the API reference (never a raw JSON 404).
 */
import * as path from 'path';

import { expect, test } from '@playwright/test';

import { login } from './login';

const USER = 'alice';

test("the Services menu opens the jobs service's page", async ({ page }) => {
  await login(page, USER);
  await page.goto('/hub/home');
  await page.getByRole('button', { name: 'Services' }).click();
  await page.getByRole('link', { name: 'aiinfn-jobs' }).click();
  await page.waitForURL(/\/services\/aiinfn-jobs\/$/);

  await expect(page.locator('h1')).toBeVisible();
  const text = await page.locator('body').innerText();
  expect(text).not.toMatch(/^\s*\{/); // not the JSON 404 it once was
  expect(text).not.toContain('``'); // the description's code spans rendered as code
  await expect(page.getByText(`Signed in as ${USER}`)).toBeVisible();
  const lab = page.getByRole('link', {
    name: "JupyterLab's Background jobs panel"
  });
  await expect(lab).toHaveAttribute('href', `/user/${USER}/lab`);
  await expect(page.getByRole('heading', { name: 'Your jobs' })).toBeVisible();
  await expect(
    page.getByRole('heading', { name: 'API reference' })
  ).toBeVisible();
  const reference = page.locator('table').last();
  await expect(reference).toContainText('/services/aiinfn-jobs/jobs');
  await expect(reference).toContainText('/services/aiinfn-jobs/plan');

  const shots = process.env.AIINFN_SCREENSHOTS_DIR;
  if (shots) {
    await page.screenshot({
      path: path.join(shots, 'service-page.png'),
      fullPage: false
    });
  }
});
