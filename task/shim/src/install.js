'use strict';
// Installs the tollgate binary the agent needs, the way Microsoft's own
// tool installer tasks do (azure-pipelines-tool-lib): a binary already on
// PATH or in the agent's tool cache with the right version is used as it
// is; otherwise the release archive for the agent's OS and architecture is
// downloaded (with the agent's proxy settings), checked against the SHA-256
// compiled into the task, extracted and put in the tool cache.

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

// The project's release location; {version} is replaced. The downloadUrl
// input replaces it (a mirror for air-gapped or proxied organisations).
const DEFAULT_DOWNLOAD_URL = 'https://github.com/tollgate/tollgate/releases/download/v{version}';

// The archives a release has (.goreleaser.yaml): GOOS/GOARCH.
const ARCHIVES = [
  ['linux', 'amd64'], ['linux', 'arm64'], ['darwin', 'amd64'], ['darwin', 'arm64'], ['windows', 'amd64'],
];

const GOOS = { linux: 'linux', darwin: 'darwin', win32: 'windows' };
const GOARCH = { x64: 'amd64', arm64: 'arm64' };

// archiveFor names the release archive for a Node platform and arch, or
// returns null when the release has none (then the task runs the image).
function archiveFor(platform, arch, version) {
  const goos = GOOS[platform];
  const goarch = GOARCH[arch];
  if (!goos || !goarch || !ARCHIVES.some(([o, a]) => o === goos && a === goarch)) {
    return null;
  }
  const ext = goos === 'windows' ? '.zip' : '.tar.gz';
  return {
    goos, goarch, ext,
    name: `tollgate_${version}_${goos}_${goarch}${ext}`,
    exe: goos === 'windows' ? 'tollgate.exe' : 'tollgate',
  };
}

// releaseBase is the folder URL the archives and checksums.txt are in.
function releaseBase(downloadUrl, version) {
  const base = (downloadUrl || DEFAULT_DOWNLOAD_URL).replace(/\{version\}/g, version);
  return base.replace(/\/+$/, '');
}

// parseChecksums reads goreleaser's checksums.txt ("<sha256>  <file>").
function parseChecksums(text) {
  const out = {};
  for (const line of String(text).split(/\r?\n/)) {
    const m = /^([0-9a-f]{64})\s+\*?(\S+)$/.exec(line.trim());
    if (m) out[m[2]] = m[1];
  }
  return out;
}

function sha256File(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

// transient tells the download failures worth another try: 5xx answers and
// timeouts or dropped connections.
function transient(err) {
  const status = err && err.httpStatusCode;
  if (status) return status >= 500;
  return ['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', 'EPIPE'].includes(err && err.code);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// download fetches url with the tool library, retrying transient failures
// with exponential backoff; anything else (404, a proxy or TLS failure) is
// one error naming the URL and the downloadUrl input.
async function download(toolLib, url, backoffMs, attempts) {
  for (let i = 1; ; i++) {
    try {
      return await toolLib.downloadTool(url);
    } catch (err) {
      if (i < attempts && transient(err)) {
        await sleep(backoffMs * 2 ** (i - 1));
        continue;
      }
      const why = err && err.httpStatusCode ? `HTTP ${err.httpStatusCode}` : (err && err.message) || String(err);
      throw new Error(`could not download ${url} (${why}). Set the task's downloadUrl input to a location that serves ` +
        'the Tollgate release archives (a mirror or proxy), or check the agent\'s proxy and certificate settings.');
    }
  }
}

// installTollgate returns the path of a tollgate binary of the version for
// the platform. deps: toolLib, findOnPath(exe) -> path|'', versionOf(path)
// -> version|'' , log(message), backoffMs, attempts.
async function installTollgate(opts, deps) {
  const { version, downloadUrl, platform, arch, checksums } = opts;
  // The agent's own path syntax (a Windows agent's tool cache is C:\...).
  const p = platform === 'win32' ? path.win32 : path.posix;
  const exists = deps.exists || fs.existsSync;
  if (!version) {
    // A task built from a source checkout knows no release: it runs the
    // tollgate on PATH.
    const exe = platform === 'win32' ? 'tollgate.exe' : 'tollgate';
    const dev = deps.findOnPath(exe);
    if (dev) {
      deps.log(`Using tollgate from PATH: ${dev} (this task was built without a release)`);
      return dev;
    }
    throw new Error('no Tollgate version to install: set the task\'s version input');
  }
  const archive = archiveFor(platform, arch, version);
  if (!archive) {
    throw new Error(`no Tollgate release archive for ${platform}/${arch}: use runner: docker`);
  }
  const onPath = deps.findOnPath(archive.exe);
  if (onPath && deps.versionOf(onPath) === version) {
    deps.log(`Using tollgate ${version} from PATH: ${onPath}`);
    return onPath;
  }
  const cached = deps.toolLib.findLocalTool('tollgate', version, archive.goarch);
  if (cached && exists(p.join(cached, archive.exe))) {
    deps.log(`Using tollgate ${version} from the tool cache: ${cached}`);
    return p.join(cached, archive.exe);
  }

  const base = releaseBase(downloadUrl, version);
  let expected;
  if (checksums && checksums.version === version) {
    expected = checksums.files[archive.name];
    if (!expected) {
      throw new Error(`the task knows no SHA-256 for ${archive.name}: refusing to install it`);
    }
  } else {
    // Another version than the task's own: its checksums.txt comes from the
    // same release location.
    const sums = await download(deps.toolLib, `${base}/checksums.txt`, deps.backoffMs, deps.attempts);
    expected = parseChecksums(fs.readFileSync(sums, 'utf8'))[archive.name];
    if (!expected) {
      throw new Error(`${base}/checksums.txt has no SHA-256 for ${archive.name}: refusing to install it`);
    }
    deps.log(`tollgate ${version} is not this task's version (${checksums ? checksums.version : 'unknown'}): checked against ${base}/checksums.txt`);
  }
  const url = `${base}/${archive.name}`;
  const file = await download(deps.toolLib, url, deps.backoffMs, deps.attempts);
  const actual = sha256File(file);
  if (actual !== expected) {
    fs.rmSync(file, { force: true });
    throw new Error(`refused ${url}: its SHA-256 is ${actual}, expected ${expected}`);
  }
  const dir = archive.ext === '.zip' ? await deps.toolLib.extractZip(file) : await deps.toolLib.extractTar(file);
  const installed = await deps.toolLib.cacheDir(dir, 'tollgate', version, archive.goarch);
  deps.log(`Installed tollgate ${version} (${archive.goos}/${archive.goarch}) into the tool cache: ${installed}`);
  return p.join(installed, archive.exe);
}

module.exports = { installTollgate, archiveFor, releaseBase, parseChecksums, transient, DEFAULT_DOWNLOAD_URL, ARCHIVES };
