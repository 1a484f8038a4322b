/** The hub's login form, as a demo user fills it (the demo's shared password). */
import { Page } from '@playwright/test';

const PASSWORD = 'aiinfn-demo';

export async function login(page: Page, user: string): Promise<void> {
  await page.goto('/hub/login');
  await page.locator('#username_input').fill(user);
  await page.locator('#password_input').fill(PASSWORD);
  await page.locator('#login_submit').click();
  await page.waitForURL(/\/hub\/(spawn|home|spawn-pending)|\/user\//);
}
