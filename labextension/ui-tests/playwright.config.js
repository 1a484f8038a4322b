/**
 * Galata (Playwright) in the system's headless Chromium (/usr/bin/chromium, Debian's
 * `chromium` package; never `playwright install`) against `jupyter lab` in standalone mode:
 * the server extension hosts the jobs service on an in-process sandbox cluster.
 */
const fs = require('fs');
const path = require('path');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const { execFileSync } = require('child_process');

const python =
  process.env.AIINFN_PYTHON ||
  path.resolve(__dirname, '..', '..', '.venv', 'bin', 'python');
// A free port, chosen once in the runner (workers and the server inherit it): several people
// may run the tests on one machine.
const port =
  process.env.AIINFN_UI_PORT ||
  execFileSync(
    python,
    [
      '-c',
      'from aiinfn_hub.sandbox.process import free_port; print(free_port())'
    ],
    { encoding: 'utf-8' }
  ).trim();
if (!process.env.AIINFN_UI_STATE) {
  // Once, in the runner (the workers and the server inherit it): the server's files and the
  // sandbox's state, kept until the next run for a look after a failure.
  const fresh = path.join(__dirname, '.state');
  fs.rmSync(fresh, { recursive: true, force: true });
  process.env.AIINFN_UI_STATE = fresh;
}
const state = process.env.AIINFN_UI_STATE;
const root = path.join(state, 'root');
fs.mkdirSync(root, { recursive: true });
process.env.AIINFN_PYTHON = python;
process.env.AIINFN_UI_PORT = port;

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
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    }
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
