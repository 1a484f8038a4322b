/**
 * Playwright in the system's headless Chromium against the hub's own pages (the spawn form):
 * `aiinfn-hub demo` (the sandbox, JupyterHub, the proxy and the jobs service, interactive
 * offloading on) on a free port. `jlpm test:hub`; AIINFN_SCREENSHOTS_DIR retakes the
 * screenshots.
 */
const path = require('path');

const { chromium, freePort, freshState, python } = require('./browser.js');

const port = freePort('AIINFN_HUB_PORT');
const state = freshState('AIINFN_HUB_STATE', '.hub-state');

module.exports = {
  testDir: './hub-tests',
  outputDir: path.join(__dirname, 'test-results'),
  workers: 1,
  retries: 0,
  timeout: 240000,
  expect: { timeout: 60000 },
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    viewport: { width: 1100, height: 900 },
    video: 'off',
    trace: 'off',
    launchOptions: chromium
  },
  webServer: {
    command: `"${python}" -m aiinfn_hub demo --port ${port} --state-dir "${state}"`,
    url: `http://127.0.0.1:${port}/hub/login`,
    timeout: 240000,
    reuseExistingServer: false,
    gracefulShutdown: { signal: 'SIGTERM', timeout: 60000 },
    stdout: 'ignore',
    stderr: 'pipe'
  }
};
