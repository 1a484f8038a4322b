/**
 * Playwright in the system's headless Chromium against the hub's own pages (the spawn form):
 * `aiinfn-hub demo` (the sandbox, JupyterHub, the proxy and the jobs service, interactive
 * offloading on) on a free port. `jlpm test:hub`; AIINFN_SCREENSHOTS_DIR retakes the
 * screenshots.
 */
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const python =
  process.env.AIINFN_PYTHON ||
  path.resolve(__dirname, '..', '..', '.venv', 'bin', 'python');
const port =
  process.env.AIINFN_HUB_PORT ||
  execFileSync(
    python,
    [
      '-c',
      'from aiinfn_hub.sandbox.process import free_port; print(free_port())'
    ],
    { encoding: 'utf-8' }
  ).trim();
if (!process.env.AIINFN_HUB_STATE) {
  const fresh = path.join(__dirname, '.hub-state');
  fs.rmSync(fresh, { recursive: true, force: true });
  process.env.AIINFN_HUB_STATE = fresh;
}
process.env.AIINFN_HUB_PORT = port;

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
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    }
  },
  webServer: {
    command: `"${python}" -m aiinfn_hub demo --port ${port} --state-dir "${process.env.AIINFN_HUB_STATE}"`,
    url: `http://127.0.0.1:${port}/hub/login`,
    timeout: 240000,
    reuseExistingServer: false,
    gracefulShutdown: { signal: 'SIGTERM', timeout: 60000 },
    stdout: 'ignore',
    stderr: 'pipe'
  }
};
