'use strict';
// How the Tollgate task runs: `tollgate task` from the binary installed for
// the agent (install.js), or `docker run` of the Tollgate image, passing the
// exit code on. Everything here takes its environment and effects as
// arguments, so that it is tested without an agent.

const childProcess = require('child_process');
const install = require('./install');
const fs = require('fs');
const path = require('path');
const os = require('os');

// The image the task version is pinned to (rewritten by the vsix build).
const DEFAULT_IMAGE = 'ghcr.io/tollgate/tollgate:0.1.0';

// Pipeline variables the scan reads, passed to the container by name.
// SYSTEM_ACCESSTOKEN is passed (by name) only when prComments is on.
const PIPELINE_VARIABLES = [
  'TF_BUILD', 'SYSTEM_DEBUG', 'SYSTEM_JOBID', 'SYSTEM_JOBATTEMPT', 'SYSTEM_JOBNAME',
  'SYSTEM_PHASEID', 'SYSTEM_PHASENAME', 'SYSTEM_COLLECTIONURI', 'SYSTEM_TEAMPROJECT',
  'SYSTEM_TEAMPROJECTID', 'SYSTEM_DEFINITIONID', 'SYSTEM_PULLREQUEST_TARGETBRANCH',
  'SYSTEM_PULLREQUEST_SOURCEBRANCH', 'SYSTEM_PULLREQUEST_PULLREQUESTID',
  'BUILD_DEFINITIONID', 'BUILD_DEFINITIONNAME', 'BUILD_BUILDID', 'BUILD_BUILDNUMBER',
  'BUILD_SOURCEBRANCH', 'BUILD_SOURCEVERSION', 'BUILD_REPOSITORY_URI',
  'BUILD_SOURCESDIRECTORY', 'BUILD_ARTIFACTSTAGINGDIRECTORY',
  'BUILD_REPOSITORY_PROVIDER', 'BUILD_REPOSITORY_ID',
  'AGENT_TEMPDIRECTORY', 'AGENT_TOOLSDIRECTORY', 'AGENT_OS',
  'SYSTEM_JOBPOSITIONINPHASE', 'SYSTEM_TOTALJOBSINPHASE', 'PIPELINE_WORKSPACE',
];

// The job's access token: the scan gets it only to comment on the pull
// request (prComments: true), never otherwise.
const TOKEN = 'SYSTEM_ACCESSTOKEN';
// The variable that tells tollgate which descriptor carries it.
const SECRETS_FD = 'TOLLGATE_SECRETS_FD';

function forbidden(env, name) {
  return name.toUpperCase() === TOKEN && !isTrue(input(env, 'prComments'));
}

// An image reference as Docker's reference grammar (distribution/reference)
// defines it: the image input must never be read as a docker run flag
// ("--privileged") or anything but an image.
const DOMAIN = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)';
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const IMAGE_REF = new RegExp(`^(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*` +
  '(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$');

function isImageRef(s) {
  return typeof s === 'string' && s.length > 0 && s.length <= 255 && IMAGE_REF.test(s);
}

function input(env, name) {
  return (env['INPUT_' + name.toUpperCase()] || '').trim();
}

function isTrue(v) {
  return /^true$/i.test(String(v || '').trim());
}

// The environment the scan sees: the agent's, minus the job's access token
// unless pull-request comments are on.
function scanEnv(env) {
  const out = {};
  for (const [k, v] of Object.entries(env)) {
    if (!forbidden(env, k)) {
      out[k] = v;
    }
  }
  return out;
}

// pathModule is the path functions of the agent's platform (so that the
// shim's handling of Windows agents' paths is tested on any machine).
function pathModule(platform) {
  return platform === 'win32' ? path.win32 : path.posix;
}

// findOnPath looks for an executable in the directories of PATH (Path on
// Windows), in order.
function findOnPath(env, exe, platform, exists) {
  const p = pathModule(platform);
  const list = env.PATH || env.Path || '';
  for (const d of list.split(p.delimiter)) {
    if (!d) continue;
    const candidate = p.join(d, exe);
    if (exists(candidate)) return candidate;
  }
  return '';
}

// usesDaemon tells whether the scan may read images from the local docker
// daemon: an explicit docker: image, or a plain name (daemon first).
function usesDaemon(env) {
  const images = input(env, 'images').split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  return images.some((i) => !/^(registry|docker-archive|oci-layout):/.test(i));
}

// dockerArgs builds `docker run` for the scan: the sources, the agent's temp
// and staging folders and the DB cache mounted at the same paths as on the
// agent (so paths in logs and SARIF match), the agent's user, INPUT_* and the
// pipeline variables passed by name, and the docker socket only when daemon
// images are scanned.
function dockerArgs(env, opts) {
  const image = input(env, 'image') || DEFAULT_IMAGE;
  const src = input(env, 'path') || env.BUILD_SOURCESDIRECTORY || opts.cwd;
  const args = ['run', '--rm'];
  const mounts = new Set();
  const mount = (p, ro) => {
    if (!p) return;
    const abs = path.resolve(p);
    if (mounts.has(abs)) return;
    mounts.add(abs);
    args.push('-v', `${abs}:${abs}${ro ? ':ro' : ''}`);
  };
  mount(src, false);
  mount(env.AGENT_TEMPDIRECTORY, false);
  mount(env.BUILD_ARTIFACTSTAGINGDIRECTORY, false);
  if (input(env, 'mode').toLowerCase() === 'merge') {
    // The shard logs `download: current` put under the workspace.
    mount(env.PIPELINE_WORKSPACE, true);
  }
  const cache = input(env, 'cacheDir') || (env.AGENT_TOOLSDIRECTORY ? path.join(env.AGENT_TOOLSDIRECTORY, 'tollgate') : '');
  if (cache) {
    opts.mkdir(cache);
    mount(cache, false);
  }
  const dockerConfig = env.DOCKER_CONFIG || (env.HOME ? path.join(env.HOME, '.docker') : '');
  if (dockerConfig && opts.exists(dockerConfig)) {
    mount(dockerConfig, true);
    args.push('-e', `DOCKER_CONFIG=${path.resolve(dockerConfig)}`);
  }
  args.push('-w', path.resolve(src));
  if (opts.uid !== undefined && opts.uid !== null) {
    args.push('--user', `${opts.uid}:${opts.gid}`);
  }
  if (usesDaemon(env) && opts.exists(opts.socket)) {
    args.push('-v', `${opts.socket}:/var/run/docker.sock`);
    const gid = opts.socketGid();
    if (gid !== undefined && gid !== null) {
      args.push('--group-add', String(gid));
    }
  }
  const names = new Set(PIPELINE_VARIABLES);
  for (const k of Object.keys(env)) {
    if (k.startsWith('INPUT_') || k.startsWith('TOLLGATE_')) names.add(k);
  }
  names.add(TOKEN);
  for (const k of [...names].sort()) {
    if (env[k] !== undefined && !forbidden(env, k)) {
      args.push('-e', k);
    }
  }
  args.push(image, 'tollgate', 'task');
  return args;
}

// chooseRunner resolves the runner input: binary (installed for the
// agent's OS and architecture), docker (the image), or auto: the binary
// wherever a release archive fits the agent, docker elsewhere.
function chooseRunner(env, opts) {
  const runner = (input(env, 'runner') || 'auto').toLowerCase();
  if (!['auto', 'docker', 'binary'].includes(runner)) {
    return { error: `input runner: "${runner}" is not auto, docker or binary` };
  }
  if (runner === 'docker') {
    return { runner };
  }
  if (install.archiveFor(opts.platform, opts.arch, 'x') === null) {
    if (runner === 'binary') {
      return { error: `runner binary: Tollgate has no release for ${opts.platform}/${opts.arch}; use runner: docker` };
    }
    return { runner: 'docker' };
  }
  return { runner: 'binary' };
}

function vso(line) {
  // Our own command: the values here come from this file, not from scans.
  return `##vso[${line}\n`;
}

function fail(out, message) {
  const safe = message.replace(/%/g, '%AZP25').replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/##/g, '#\\#');
  out.write(vso(`task.logissue type=error]${safe}`));
  out.write(vso(`task.complete result=Failed]${safe}`));
}

// run executes the task and resolves with the exit code. deps.install
// resolves to the path of the binary (see install.js).
async function run(env, deps) {
  const opts = {
    platform: deps.platform,
    arch: deps.arch,
    cwd: deps.cwd,
    uid: deps.uid,
    gid: deps.gid,
    socket: deps.socket || '/var/run/docker.sock',
    exists: deps.exists,
    mkdir: deps.mkdir,
    socketGid: deps.socketGid,
  };
  const choice = chooseRunner(env, opts);
  if (choice.error) {
    fail(deps.stdout, `Tollgate: ${choice.error}`);
    return 2;
  }
  let cmd;
  let args;
  if (choice.runner === 'binary') {
    try {
      cmd = await deps.install();
    } catch (err) {
      fail(deps.stdout, `Tollgate: ${err.message}`);
      return 3;
    }
    args = ['task'];
  } else {
    const probe = deps.spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      const why = probe.error ? probe.error.message : (probe.stderr || '').trim();
      fail(deps.stdout, `Tollgate: Docker is not available on this agent (${why}). ` +
        'Use runner: binary (the task installs tollgate for Linux, macOS and Windows agents on x64, and Linux and macOS on arm64), ' +
        'or run the Tollgate image as a container job.');
      return 3;
    }
    const image = input(env, 'image');
    if (image && !isImageRef(image)) {
      fail(deps.stdout, `Tollgate: input image: ${JSON.stringify(image)} is not an image reference (such as ghcr.io/tollgate/tollgate:1.0.0)`);
      return 2;
    }
    cmd = 'docker';
    args = dockerArgs(env, opts);
  }
  // The binary gets the token through a pipe (descriptor 3), never in its
  // environment, where any process of the agent's user could read it from
  // /proc/PID/environ while the scan runs (Windows has no /proc, and no
  // descriptor 3 a Go program can open: there it stays in the environment).
  const childEnv = scanEnv(env);
  let secrets = null;
  if (choice.runner === 'binary' && opts.platform !== 'win32' && childEnv[TOKEN] !== undefined) {
    secrets = JSON.stringify({ [TOKEN]: childEnv[TOKEN] });
    delete childEnv[TOKEN];
    childEnv[SECRETS_FD] = '3';
  }
  return new Promise((resolve) => {
    const stdio = secrets ? ['inherit', 'inherit', 'inherit', 'pipe'] : 'inherit';
    const child = deps.spawn(cmd, args, { stdio, env: childEnv });
    if (secrets && child.stdio && child.stdio[3]) {
      child.stdio[3].on('error', () => { /* the scan reports a missing token */ });
      child.stdio[3].end(secrets);
    }
    child.on('error', (err) => {
      fail(deps.stdout, `Tollgate: could not start ${cmd}: ${err.message}`);
      resolve(3);
    });
    child.on('close', (code, signal) => {
      resolve(code === null ? (signal ? 3 : 0) : code);
    });
  });
}

function defaultDeps() {
  return {
    platform: os.platform(),
    arch: os.arch(),
    cwd: process.cwd(),
    uid: typeof process.getuid === 'function' ? process.getuid() : undefined,
    gid: typeof process.getgid === 'function' ? process.getgid() : undefined,
    exists: (p) => { try { fs.accessSync(p); return true; } catch (e) { return false; } },
    mkdir: (p) => { try { fs.mkdirSync(p, { recursive: true }); } catch (e) { /* the scan reports it */ } },
    socketGid: () => { try { return fs.statSync('/var/run/docker.sock').gid; } catch (e) { return undefined; } },
    spawn: childProcess.spawn,
    spawnSync: childProcess.spawnSync,
    stdout: process.stdout,
  };
}

module.exports = { run, input, dockerArgs, chooseRunner, scanEnv, usesDaemon, isImageRef, findOnPath, pathModule, defaultDeps, DEFAULT_IMAGE, PIPELINE_VARIABLES };
