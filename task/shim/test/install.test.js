'use strict';
// The task as the agent runs it: the handler bundled as the .vsix carries it
// (esbuild, checksums.json beside it), against a release server on
// 127.0.0.1 that serves GoReleaser's snapshot archives (dist/, made by
// `goreleaser release --snapshot --clean` in .ci/run).
const test = require('node:test');
const { after } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const net = require('node:net');
const { spawnSync, spawn } = require('node:child_process');

const repo = path.resolve(__dirname, '..', '..', '..');

// Every folder a test makes (agent workspaces hold an installed binary of
// ~160 MB each) is removed when the tests end.
const made = [];
function tempDir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});
const dist = process.env.TOLLGATE_DIST || path.join(repo, 'dist');
const install = require('../src/install.js');

function release() {
  for (const f of ['checksums.txt', 'metadata.json']) {
    if (!fs.existsSync(path.join(dist, f))) {
      throw new Error(`${path.join(dist, f)} is missing: run goreleaser release --snapshot --clean (bash .ci/run does)`);
    }
  }
  const version = JSON.parse(fs.readFileSync(path.join(dist, 'metadata.json'), 'utf8')).version;
  const files = install.parseChecksums(fs.readFileSync(path.join(dist, 'checksums.txt'), 'utf8'));
  return { version, files };
}

// bundle builds the handler into a folder laid out as in the .vsix.
function bundle(rel) {
  const dir = tempDir('tollgate-task-');
  const esbuild = require('esbuild');
  esbuild.buildSync({
    entryPoints: [path.join(__dirname, '..', 'index.js')], bundle: true, platform: 'node', target: 'node20',
    outfile: path.join(dir, 'shim', 'index.js'), logLevel: 'warning',
  });
  fs.writeFileSync(path.join(dir, 'shim', 'checksums.json'), JSON.stringify(rel));
  return path.join(dir, 'shim', 'index.js');
}

// releaseServer serves dist/ with switches: fail the next n requests with
// 503, serve a tampered archive, or have the mirror serve other files of
// its own (mirrorFiles: name -> bytes). It counts requests by path.
function releaseServer() {
  const s = { hits: {}, fail503: 0, tamper: false, mirrorFiles: {} };
  s.server = http.createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '');
    s.hits[name] = (s.hits[name] || 0) + 1;
    if (s.fail503 > 0) {
      s.fail503--;
      res.writeHead(503, { 'Retry-After': '1' });
      return res.end('busy');
    }
    // The release's files at the root, and a mirror of them under /mirror/.
    const rel = name.replace(/^mirror\//, '');
    if (rel !== name && Object.hasOwn(s.mirrorFiles, rel)) {
      const own = s.mirrorFiles[rel];
      res.writeHead(200, { 'Content-Length': own.length });
      return res.end(own);
    }
    const file = path.join(dist, rel);
    if (rel.includes('/') || !fs.existsSync(file)) {
      res.writeHead(404);
      return res.end('not found');
    }
    let body = fs.readFileSync(file);
    if (s.tamper) {
      body = Buffer.concat([body, Buffer.from('tampered')]);
    }
    res.writeHead(200, { 'Content-Length': body.length });
    res.end(body);
  });
  return new Promise((resolve) => s.server.listen(0, '127.0.0.1', () => {
    s.url = `http://127.0.0.1:${s.server.address().port}`;
    resolve(s);
  }));
}

// proxyServer is an HTTP proxy (as the agent's Agent.ProxyUrl names one):
// it forwards absolute-URI requests and counts them.
function proxyServer() {
  const p = { hits: 0 };
  p.server = http.createServer((req, res) => {
    p.hits++;
    const target = new URL(req.url);
    const up = http.request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  // The agent's proxy client tunnels (CONNECT host:port), as through a
  // corporate proxy.
  p.server.on('connect', (req, client, head) => {
    p.hits++;
    const [host, port] = req.url.split(':');
    const up = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  return new Promise((resolve) => p.server.listen(0, '127.0.0.1', () => {
    p.url = `http://127.0.0.1:${p.server.address().port}`;
    resolve(p);
  }));
}

// agent runs the bundled handler the way the agent does, asynchronously
// (the release server lives in this process).
function agent(shim, work, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [shim], {
      env: Object.assign({
        PATH: '/usr/bin:/bin',
        HOME: work.home,
        TF_BUILD: 'True',
        SYSTEM_JOBID: 'job',
        SYSTEM_JOBATTEMPT: '1',
        AGENT_TOOLSDIRECTORY: work.tools,
        AGENT_TEMPDIRECTORY: work.temp,
        BUILD_ARTIFACTSTAGINGDIRECTORY: work.staging,
        BUILD_SOURCESDIRECTORY: work.src,
        INPUT_RUNNER: 'binary',
        INPUT_FAILON: 'high',
      }, env),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function sha256(buf) {
  return require('node:crypto').createHash('sha256').update(buf).digest('hex');
}

// forgedArchive is a working release archive named like the real one whose
// tollgate is a script that announces itself.
function forgedArchive(name) {
  const dir = tempDir('tollgate-forged-');
  fs.writeFileSync(path.join(dir, 'tollgate'), '#!/bin/sh\necho "tollgate 0.0.0-forged"; echo "FORGED TOLLGATE RAN"; exit 0\n', { mode: 0o755 });
  const out = path.join(tempDir('tollgate-forged-out-'), name);
  const r = spawnSync('tar', ['czf', out, '-C', dir, 'tollgate'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
  return fs.readFileSync(out);
}

function workspace() {
  const base = tempDir('tollgate-agent-');
  const w = { home: path.join(base, 'home'), tools: path.join(base, '_tool'), temp: path.join(base, '_temp'), staging: path.join(base, 'a'), src: path.join(base, 's') };
  for (const d of Object.values(w)) fs.mkdirSync(d, { recursive: true });
  fs.cpSync(path.join(repo, 'testdata', 'demo'), w.src, { recursive: true });
  return w;
}

test('the task installs the release archive for the agent, checks it, caches it, and runs the scan', async (t) => {
  if (!install.archiveFor(os.platform(), os.arch(), 'x')) {
    throw new Error(`this test runs where a release archive fits: ${os.platform()}/${os.arch()}`);
  }
  const rel = release();
  const shim = bundle(rel);
  const srv = await releaseServer();
  const proxy = await proxyServer();
  t.after(() => { srv.server.close(); proxy.server.close(); });
  const archive = install.archiveFor(os.platform(), os.arch(), rel.version).name;
  const env = { INPUT_DOWNLOADURL: srv.url };

  await t.test('first run: downloaded, verified, cached; the demo fails the gate', async () => {
    const w = workspace();
    const r = await agent(shim, w, env);
    assert.strictEqual(r.code, 1, r.stdout + r.stderr);
    assert.strictEqual(srv.hits[archive], 1);
    assert.match(r.stdout, /##vso\[task\.complete result=Failed\]/);
    assert.match(r.stdout, new RegExp(`Installed tollgate ${rel.version.replace(/\./g, '\\.')}`));
    // Second run on the same agent: from the cache, no request.
    const again = await agent(shim, w, env);
    assert.strictEqual(again.code, 1, again.stdout + again.stderr);
    assert.strictEqual(srv.hits[archive], 1, 'the second run downloaded again');
    assert.match(again.stdout, /from the tool cache/);
  });

  await t.test('a tampered archive is refused, naming the URL and both digests', async () => {
    srv.tamper = true;
    const w = workspace();
    const r = await agent(shim, w, env);
    srv.tamper = false;
    assert.strictEqual(r.code, 3, r.stdout);
    const want = rel.files[archive];
    assert.match(r.stdout, new RegExp(`refused ${srv.url}/${archive.replace(/\./g, '\\.')}: its SHA-256 is [0-9a-f]{64}, expected ${want}`));
    assert.ok(!fs.existsSync(path.join(w.tools, 'tollgate')), 'a refused archive was cached');
  });

  await t.test('a downloadUrl cannot change what is accepted', async () => {
    // A mirror that serves another archive under the release's name (a
    // working one: its tollgate would run), together with a checksums.txt
    // that vouches for it, is refused: the task's own checksums decide.
    const forged = forgedArchive(archive);
    const forgedSum = sha256(forged);
    srv.mirrorFiles = {
      [archive]: forged,
      'checksums.txt': Buffer.from(`${forgedSum}  ${archive}\n`),
    };
    const mirror = `${srv.url}/mirror`;
    // The premise: the mirror's own checksums.txt matches what it serves.
    const sums = install.parseChecksums(await (await fetch(`${mirror}/checksums.txt`)).text());
    assert.strictEqual(sums[archive], sha256(Buffer.from(await (await fetch(`${mirror}/${archive}`)).arrayBuffer())));
    assert.notStrictEqual(forgedSum, rel.files[archive]);

    const w = workspace();
    const r = await agent(shim, w, { INPUT_DOWNLOADURL: mirror });
    srv.mirrorFiles = {};
    assert.strictEqual(r.code, 3, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /FORGED TOLLGATE RAN/);
    assert.match(r.stdout, new RegExp(`refused ${mirror}/${archive.replace(/\./g, '\\.')}: its SHA-256 is ${forgedSum}, expected ${rel.files[archive]}`));
    assert.ok(!fs.existsSync(path.join(w.tools, 'tollgate')), 'the forged archive was cached');
  });

  await t.test('503 then 200: retried, installed', async () => {
    srv.fail503 = 1;
    const before = srv.hits[archive] || 0;
    const r = await agent(shim, workspace(), env);
    assert.strictEqual(r.code, 1, r.stdout + r.stderr);
    assert.strictEqual(srv.hits[archive] - before, 2);
  });

  await t.test('404 names the URL and the downloadUrl input', async () => {
    const r = await agent(shim, workspace(), { INPUT_DOWNLOADURL: `${srv.url}/nothing-here`, INPUT_VERSION: '9.9.9' });
    assert.strictEqual(r.code, 3);
    assert.match(r.stdout, new RegExp(`could not download ${srv.url}/nothing-here/checksums\\.txt \\(HTTP 404\\)`));
    assert.match(r.stdout, /downloadUrl input/);
  });

  await t.test('the proxy the agent names is used', async () => {
    const r = await agent(shim, workspace(), Object.assign({ AGENT_PROXYURL: proxy.url }, env));
    assert.strictEqual(r.code, 1, r.stdout + r.stderr);
    assert.ok(proxy.hits >= 1, 'no request went through the proxy');
  });

  await t.test('the inputs reach the scan (the task library takes INPUT_* out of the environment)', async () => {
    // failOn: none passes the demo; with the inputs lost it would fail at the default, high.
    const r = await agent(shim, workspace(), Object.assign({}, env, { INPUT_FAILON: 'none' }));
    assert.strictEqual(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /##vso\[task\.complete result=SucceededWithIssues\]/);
  });

  await t.test('a tollgate on PATH of another version is not run: the pinned version is installed', async () => {
    // A script that answers `version` with another release and records
    // every way it is called.
    const onPath = tempDir('tollgate-path-');
    const calls = path.join(onPath, 'calls');
    const exe = path.join(onPath, 'tollgate');
    fs.writeFileSync(exe, `#!/bin/sh\necho "$*" >> '${calls}'\n` +
      'if [ "$1" = version ]; then echo "tollgate 0.0.1-other"; exit 0; fi\necho "WRONG TOLLGATE RAN"; exit 0\n');
    fs.chmodSync(exe, 0o755);
    const hits = srv.hits[archive] || 0;
    const w = workspace();
    const r = await agent(shim, w, Object.assign({}, env, { PATH: `${onPath}:/usr/bin:/bin` }));
    // The pinned release ran the scan: the demo fails the gate (a run of the
    // script would exit 0).
    assert.strictEqual(r.code, 1, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /WRONG TOLLGATE RAN/);
    assert.doesNotMatch(r.stdout, /from PATH/);
    assert.match(r.stdout, new RegExp(`Installed tollgate ${rel.version.replace(/\./g, '\\.')}`));
    assert.strictEqual(srv.hits[archive], hits + 1);
    // The shim only asked it its version.
    const asked = fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').trim().split('\n') : [];
    assert.ok(asked.every((a) => a === 'version'), `the wrong-version tollgate was run as: ${asked.join(' | ')}`);
  });

  await t.test('a binary on PATH with the right version is used without a download', async () => {
    const w = workspace();
    const first = await agent(shim, w, env);
    assert.strictEqual(first.code, 1);
    const exe = os.platform() === 'win32' ? 'tollgate.exe' : 'tollgate';
    const found = spawnSync('find', [w.tools, '-name', exe, '-type', 'f'], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
    const onPath = tempDir('tollgate-path-');
    fs.copyFileSync(found, path.join(onPath, exe));
    fs.chmodSync(path.join(onPath, exe), 0o755);
    const hits = srv.hits[archive];
    const r = await agent(shim, workspace(), Object.assign({}, env, { PATH: `${onPath}:/usr/bin:/bin` }));
    assert.strictEqual(r.code, 1, r.stdout + r.stderr);
    assert.strictEqual(srv.hits[archive], hits);
    assert.match(r.stdout, /from PATH/);
  });
});

test('checksums are compared by content, not by name', () => {
  const text = `${'a'.repeat(64)}  tollgate_1.0.0_linux_amd64.tar.gz\n${'b'.repeat(64)} *tollgate_1.0.0_windows_amd64.zip\nnot a line\n`;
  assert.deepStrictEqual(install.parseChecksums(text), {
    'tollgate_1.0.0_linux_amd64.tar.gz': 'a'.repeat(64),
    'tollgate_1.0.0_windows_amd64.zip': 'b'.repeat(64),
  });
  assert.strictEqual(install.releaseBase('https://mirror.example/tollgate/v{version}/', '1.0.0'), 'https://mirror.example/tollgate/v1.0.0');
  assert.strictEqual(install.archiveFor('win32', 'x64', '1.0.0').name, 'tollgate_1.0.0_windows_amd64.zip');
  assert.strictEqual(install.archiveFor('win32', 'x64', '1.0.0').exe, 'tollgate.exe');
  assert.strictEqual(install.archiveFor('darwin', 'arm64', '1.0.0').name, 'tollgate_1.0.0_darwin_arm64.tar.gz');
  assert.strictEqual(install.archiveFor('win32', 'arm64', '1.0.0'), null);
  assert.ok(install.transient({ httpStatusCode: 503 }) && !install.transient({ httpStatusCode: 404 }) && install.transient({ code: 'ETIMEDOUT' }));
});

test('a Windows agent installs the zip into its tool cache and runs tollgate.exe (simulated)', async () => {
  const version = '1.2.3';
  const name = 'tollgate_1.2.3_windows_amd64.zip';
  const archive = path.join(tempDir('tollgate-win-'), name);
  fs.writeFileSync(archive, 'PK\u0003\u0004 a zip');
  const sum = require('node:crypto').createHash('sha256').update(fs.readFileSync(archive)).digest('hex');
  const calls = [];
  const toolLib = {
    findLocalTool: () => '',
    downloadTool: async (url) => { calls.push(['download', url]); return archive; },
    extractZip: async (file) => { calls.push(['extractZip', file]); return 'D:\\a\\_temp\\x'; },
    extractTar: async () => { throw new Error('a Windows archive is a zip'); },
    cacheDir: async (dir, tool, v, arch) => { calls.push(['cacheDir', dir, tool, v, arch]); return `C:\\hostedtoolcache\\windows\\${tool}\\${v}\\${arch}`; },
  };
  const got = await install.installTollgate({
    version, downloadUrl: 'https://mirror.example/tollgate/{version}/', platform: 'win32', arch: 'x64',
    checksums: { version, files: { [name]: sum } },
  }, { toolLib, findOnPath: () => '', versionOf: () => '', log: () => {}, backoffMs: 1, attempts: 2, exists: () => false });
  assert.strictEqual(got, 'C:\\hostedtoolcache\\windows\\tollgate\\1.2.3\\amd64\\tollgate.exe');
  assert.deepStrictEqual(calls, [
    ['download', `https://mirror.example/tollgate/1.2.3/${name}`],
    ['extractZip', archive],
    ['cacheDir', 'D:\\a\\_temp\\x', 'tollgate', '1.2.3', 'amd64'],
  ]);
  // Cached: the same version's tollgate.exe is used with no download.
  toolLib.findLocalTool = () => 'C:\\hostedtoolcache\\windows\\tollgate\\1.2.3\\amd64';
  calls.length = 0;
  const again = await install.installTollgate({ version, platform: 'win32', arch: 'x64', checksums: { version, files: { [name]: sum } } },
    { toolLib, findOnPath: () => '', versionOf: () => '', log: () => {}, backoffMs: 1, attempts: 2, exists: (p) => p === got });
  assert.strictEqual(again, got);
  assert.deepStrictEqual(calls, []);
});
