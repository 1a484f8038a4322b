/**
 * What the browser tests' Playwright configs share: the venv's Python, a free port and a fresh
 * state folder (each chosen once, in the runner: the workers and the server inherit them
 * through the environment, and several people may run the tests on one machine), and Debian's
 * headless Chromium (/usr/bin/chromium; never `playwright install`).
 */
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const python =
  process.env.AIINFN_PYTHON ||
  path.resolve(__dirname, '..', '..', '.venv', 'bin', 'python');

/** The port in $`variable`, else a free one, put there. */
function freePort(variable) {
  if (!process.env[variable]) {
    process.env[variable] = execFileSync(
      python,
      [
        '-c',
        'from aiinfn_hub.sandbox.process import free_port; print(free_port())'
      ],
      { encoding: 'utf-8' }
    ).trim();
  }
  return process.env[variable];
}

/** The folder in $`variable`, else `folder` here emptied and put there (kept after the run,
 * for a look after a failure). */
function freshState(variable, folder) {
  if (!process.env[variable]) {
    const fresh = path.join(__dirname, folder);
    fs.rmSync(fresh, { recursive: true, force: true });
    process.env[variable] = fresh;
  }
  return process.env[variable];
}

const chromium = {
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
};

module.exports = { python, freePort, freshState, chromium };
