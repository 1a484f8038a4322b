/**
 * Galata (Playwright) in the system's headless Chromium (/usr/bin/chromium, Debian's
 * `chromium` package; never `playwright install`) against `jupyter lab` in standalone mode:
 * the server extension hosts the jobs service on an in-process sandbox cluster.
 */
const fs = require('fs');
const path = require('path');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const { chromium, freePort, freshState, python } = require('./browser.js');

const port = freePort('AIINFN_UI_PORT');
// the server's files and the sandbox's state
const state = freshState('AIINFN_UI_STATE', '.state');
const root = path.join(state, 'root');
fs.mkdirSync(root, { recursive: true });
process.env.AIINFN_PYTHON = python;

module.exports = {
  ...baseConfig,
  testDir: './tests',
  outputDir: path.join(__dirname, 'test-results'),
  workers: 1,
  retries: 0,
  timeout: 240000,
  expect: { timeout: 90000 },
  reporter: [['list']],
  use: {
    ...baseConfig.use,
    baseURL: `http://127.0.0.1:${port}`,
    viewport: { width: 1280, height: 800 },
    video: 'off',
    trace: 'off',
    launchOptions: chromium
  },
  webServer: {
    command: `"${python}" -m jupyterlab --config "${path.join(__dirname, 'jupyter_server_test_config.py')}"`,
    url: `http://127.0.0.1:${port}/lab`,
    timeout: 180000,
    reuseExistingServer: false,
    gracefulShutdown: { signal: 'SIGTERM', timeout: 30000 },
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      ...process.env,
      JUPYTERLAB_GALATA_ROOT_DIR: root,
      AIINFN_UI_STATE: state,
      AIINFN_UI_PORT: port
    }
  }
};
