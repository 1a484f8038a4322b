/**
 * A site that keeps failing submissions is degraded: the site overview says so, why and when
 * it is tried again, and a new job's plan passes it over. Last of the specs (files run in
 * name order): CNAF Tier-1 stays degraded for its cool-down once this test has run.
 */
import { expect, test } from '@jupyterlab/galata';

import {
  api,
  HINT_SEEN,
  openPanel,
  runFromFileBrowser,
  sandboxFault,
  screenshot
} from './helpers';

test.use(HINT_SEEN);

test('a site whose submissions keep failing is degraded in the overview and skipped by new plans', async ({
  page,
  request,
  tmpPath
}, testInfo) => {
  await page.contents.uploadContent(
    'echo "step done"\n',
    'text',
    `${tmpPath}/step.sh`
  );
  const panel = await openPanel(page);
  const tier1 = panel.locator('.aiinfn-Site[data-site="tier1"]');
  const refresh = panel.getByRole('button', { name: 'Refresh jobs and sites' });
  sandboxFault(
    'provider-failure',
    'tier1',
    '--message',
    'HTCondor schedd unreachable: connection refused'
  );
  try {
    // Offloadable CPU jobs go to CNAF Tier-1 first and fall back, one after the other, until
    // its breaker opens (an earlier spec's fallback within the window counts too).
    for (let tries = 0; tries < 3; tries++) {
      await refresh.click();
      if (
        (await tier1.locator('.aiinfn-Site-health').textContent()) ===
        'Degraded'
      ) {
        break;
      }
      const submitted = await api(request, 'POST', 'jobs', {
        path: `${tmpPath}/step.sh`
      });
      expect(submitted.status).toBe(201);
      await expect
        .poll(
          async () =>
            (await api(request, 'GET', `jobs/${submitted.data.id}`)).data.state,
          { timeout: 120000 }
        )
        .toBe('succeeded');
    }
    await refresh.click();
    await expect(tier1.locator('.aiinfn-Site-health')).toHaveText('Degraded');
    await expect(tier1.locator('.aiinfn-Site-health')).toHaveClass(
      /aiinfn-Health-degraded/
    );
    const breaker = tier1.locator('.aiinfn-Site-breaker');
    await expect(breaker).toContainText(
      /^Degraded: \d+ of the last \d+ submissions to CNAF Tier-1 failed: the remote submission failed: /
    );
    await expect(breaker).toContainText('HTCondor schedd unreachable');
    await expect(breaker).toContainText(
      /new jobs skip it, retrying at \d\d:\d\d/
    );
    await screenshot(tier1, 'degraded.png', testInfo.outputDir);

    // A new job's plan passes it over, and says why.
    const dialog = await runFromFileBrowser(page, 'step.sh');
    const preview = dialog.locator('.aiinfn-PlanSites li');
    await expect(preview.first()).toHaveAttribute('data-site', 'local');
    await expect(
      dialog.locator('.aiinfn-RuledOut li[data-site="tier1"]')
    ).toContainText(
      /degraded: \d+ of the last \d+ submissions to CNAF Tier-1 failed/
    );
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  } finally {
    sandboxFault('provider-failure', 'tier1', '--off');
  }
});
