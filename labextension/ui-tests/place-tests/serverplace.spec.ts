/**
 * A server the hub started at a remote site: JupyterLab says where it runs, that it fell
 * back, and that its home is a scratch folder, for the whole session (a chip in the top bar
 * that stays, and a notice that stays until dismissed), with the full sentences on click.
 */
import * as path from 'path';

import { expect, test } from '@jupyterlab/galata';

test('the top bar says where the server runs, its fallback and its scratch home', async ({
  page
}) => {
  const chip = page.locator('#aiinfn-server-place');
  await expect(chip).toBeVisible();
  await expect(chip).toHaveText(
    'Server: CINECA Leonardo · fell back · scratch home'
  );
  await expect(chip).toHaveClass(/jp-aiinfn-ServerPlace--attention/);
  await expect(chip).toHaveAttribute(
    'title',
    /falling back from CNAF Tier-1 .*scratch folder, deleted when the server stops/
  );

  // a notice that does not go away by itself
  const toast = page.locator('.Toastify__toast').filter({
    hasText: 'Your home here is a scratch folder at CINECA Leonardo'
  });
  await expect(toast).toBeVisible();
  const shots = process.env.AIINFN_SCREENSHOTS_DIR;
  if (shots) {
    await page.screenshot({
      path: path.join(shots, 'server-place.png'),
      clip: { x: 0, y: 0, width: 1280, height: 800 }
    });
  }
  await page.waitForTimeout(6000); // longer than a notice that closes by itself
  await expect(toast).toBeVisible();

  // the sentences on click, from the notice or the chip
  await toast.getByRole('button', { name: 'Details' }).click();
  await expect(page.locator('.jp-Dialog')).toContainText(
    'Your server runs at CINECA Leonardo'
  );
  await page
    .locator('.jp-Dialog')
    .getByRole('button', { name: 'Close' })
    .click();
  await chip.click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText('Your server runs at CINECA Leonardo');
  await expect(dialog).toContainText(
    'up to 1Gi in all, are copied into your home folder'
  );
  await expect(dialog).toContainText(
    "CINECA Leonardo's time limit stops the server"
  );
  await dialog.getByRole('button', { name: 'Close' }).click();
  await expect(dialog).toHaveCount(0);

  // for the whole session: after a reload it is still there
  await page.reload();
  await expect(page.locator('#aiinfn-server-place')).toHaveText(
    'Server: CINECA Leonardo · fell back · scratch home'
  );
});
