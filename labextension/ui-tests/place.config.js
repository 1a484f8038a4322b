/**
 * The remote-server indicator's galata test: the browser tests' JupyterLab (playwright.config.js)
 * started as the hub's spawner starts a server at a remote site, with the place it gives the
 * server ($AIINFN_SERVER_PLACE): CINECA Leonardo, after falling back from the CNAF Tier-1, its
 * home a scratch folder. `jlpm test:place`.
 */
const { execFileSync } = require('child_process');

const base = require('./playwright.config.js');

const python = process.env.AIINFN_PYTHON;
// made by the same code the spawner uses, so the test sees what a real server gets
const place = execFileSync(
  python,
  [
    '-c',
    [
      'import time',
      'from aiinfn_hub.serverplace import PLACE_ENV, FallBackStep, ServerPlace',
      'place = ServerPlace(site="leonardo", site_name="CINECA Leonardo", remote=True,',
      '    fell_back_from=(FallBackStep("CNAF Tier-1", "it is down: the connection to the site is lost"),),',
      '    scratch_volumes=("home",), copy_back_bytes=2**30, ends_at=time.time() + 86400)',
      'print(place.to_env()[PLACE_ENV])'
    ].join('\n')
  ],
  { encoding: 'utf-8' }
).trim();

module.exports = {
  ...base,
  testDir: './place-tests',
  webServer: {
    ...base.webServer,
    env: {
      ...base.webServer.env,
      AIINFN_SERVER_PLACE: place,
      AIINFN_SITE: 'leonardo'
    }
  }
};
