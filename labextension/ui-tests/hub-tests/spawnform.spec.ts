/**
 * The hub's spawn form in Chromium, as a user meets it: GPU counts that look like choices
 * (buttons of one width), GPU models by their display names, the MIG profile's limit that
 * agrees with its choices, the Automatic profile in one sentence with the sites on demand,
 * and before Start a note that a remote server's home is scratch, with a choice to keep the
 * server local that the hub honours.
 */
import * as path from 'path';

import { expect, Page, test } from '@playwright/test';

import { login } from './login';

const USER = 'alice';

function profile(page: Page, slug: string) {
  return page.locator(`.aiinfn-profile[data-profile="${slug}"]`);
}

test('the spawn form reads as choices and warns before a remote start', async ({
  page
}) => {
  await login(page, USER);
  await page.goto('/hub/spawn');
  const form = page.locator('#kubespawner-profiles-list');
  await expect(form).toBeVisible();

  // GPU counts are radio buttons (no text boxes, no drop-downs) of one width
  await expect(form.locator('select')).toHaveCount(0);
  const automaticGpus = profile(page, 'automatic').getByRole('radiogroup', {
    name: 'GPUs'
  });
  const buttons = automaticGpus.locator('label');
  await expect(buttons).toHaveText(['no GPU', '1 GPU', '2 GPUs', '4 GPUs']);
  const widths = await buttons.evaluateAll(labels =>
    labels.map(l => Math.round(l.getBoundingClientRect().width))
  );
  expect(new Set(widths).size, `widths ${widths}`).toBe(1);
  expect(widths[0]).toBeGreaterThan(40);

  // display names, not the catalogue's ids
  await expect(profile(page, 'gpu-rtx5000')).toContainText('RTX 5000 free now');
  const mig = profile(page, 'gpu-a100-mig-1g-10gb');
  await expect(mig).toContainText(
    'A100 MIG 1g.10gb free now; up to 4 per server'
  );
  await expect(
    mig.getByRole('radiogroup', { name: 'GPUs' }).locator('label')
  ).toHaveText(['1 GPU', '2 GPUs', '4 GPUs']);
  expect(await form.innerText()).not.toMatch(/RTX5000|A100-MIG/);

  // Automatic: one short sentence, the sites folded
  const automatic = profile(page, 'automatic');
  await expect(automatic.locator('.aiinfn-profile-title p')).toHaveText(
    /^[^.]*\.$/
  );
  const details = automatic.locator('details');
  await expect(details.locator('p')).toBeHidden();
  await details.locator('summary').click();
  await expect(details.locator('p')).toBeVisible();
  await expect(details.locator('p')).toContainText(
    'GPU servers: CINECA Leonardo'
  );

  // before Start: a remote server's home is scratch; the user may keep it local
  const note = automatic.locator('.aiinfn-remote-note');
  await expect(note).toBeVisible();
  await expect(note).toContainText('scratch home');
  await expect(note).toContainText('copied back into your home folder');
  const sites = automatic.getByRole('radiogroup', { name: 'Sites' });
  await expect(sites.getByLabel('Remote too (scratch home)')).toBeChecked();
  await sites.getByText('Local only (home kept)').click();
  await expect(page.locator('#profile-item-automatic')).toBeChecked();
  await expect(sites.getByLabel('Local only (home kept)')).toBeChecked();

  const shots = process.env.AIINFN_SCREENSHOTS_DIR;
  if (shots) {
    await page
      .locator('form', { has: form })
      .screenshot({ path: path.join(shots, 'spawn-form.png') });
  }

  // Start: the hub receives the choice and keeps the server local
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/user\/alice\/lab/, { timeout: 180000 });
  await page.goto('/hub/home'); // the hub's own XSRF cookie, for its API
  const options = await page.evaluate(async () => {
    const xsrf = document.cookie.match(/_xsrf=([^;]+)/)?.[1] ?? '';
    const response = await fetch('/hub/api/user', {
      headers: { 'X-XSRFToken': xsrf }
    });
    const body = await response.json();
    return body.servers?.['']?.user_options ?? body;
  });
  expect(options).toEqual({ profile: 'automatic', gpus: '0', where: 'local' });
});
