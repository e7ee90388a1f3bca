'use strict';
// Azure Pipelines handler of the Tollgate task. Bundled with its node
// modules into one file by task/build-vsix.sh, so that the agent's Node runs
// it as it is; checksums.json beside it holds the SHA-256 of every release
// archive of the task's own version.

// The agent's environment as the agent set it. azure-pipelines-task-lib
// moves the INPUT_* variables into its own store when it loads (and deletes
// them from process.env), but the scan reads its inputs from INPUT_*: keep
// a copy taken before it loads, and give that to the runner.
const agentEnv = Object.assign({}, process.env);

const fs = require('fs');
const os = require('os');
const path = require('path');
const childProcess = require('child_process');
const tl = require('azure-pipelines-task-lib/task');
const toolLib = require('azure-pipelines-tool-lib/tool');
const runner = require('./src/runner');
const install = require('./src/install');

// checksums are compiled in at build time; a source checkout has none.
function checksums() {
  try {
    return JSON.parse(fs.readFileSync(path.join(__dirname, 'checksums.json'), 'utf8'));
  } catch (e) {
    return null;
  }
}

// versionOf asks a binary its version (`tollgate version`, first line).
function versionOf(bin) {
  const r = childProcess.spawnSync(bin, ['version'], { encoding: 'utf8', timeout: 30000 });
  const m = /^tollgate (\S+)/.exec(r.stdout || '');
  return m ? m[1] : '';
}

async function main() {
  // The registry password reaches the scan by name only; never print it.
  if (process.env.TOLLGATE_REGISTRY_PASSWORD) {
    tl.setSecret(process.env.TOLLGATE_REGISTRY_PASSWORD);
  }
  const sums = checksums();
  const deps = runner.defaultDeps();
  deps.install = () => install.installTollgate({
    version: runner.input(agentEnv, 'version') || (sums && sums.version) || '',
    downloadUrl: runner.input(agentEnv, 'downloadUrl'),
    platform: os.platform(),
    arch: os.arch(),
    checksums: sums,
  }, {
    toolLib,
    findOnPath: (exe) => runner.findOnPath(agentEnv, exe, os.platform(), deps.exists),
    versionOf,
    log: (m) => console.log(m),
    backoffMs: 1000,
    attempts: 4,
  });
  return runner.run(agentEnv, deps);
}

main().then((code) => { process.exitCode = code; }, (err) => {
  tl.setResult(tl.TaskResult.Failed, `Tollgate: ${err.message}`);
  process.exitCode = 3;
});
