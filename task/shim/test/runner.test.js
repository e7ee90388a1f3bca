'use strict';
// node --test task/shim
const test = require('node:test');
const assert = require('node:assert');
const { EventEmitter } = require('node:events');
const { PassThrough } = require('node:stream');
const path = require('node:path');
const shim = require('../src/runner.js');

const agentEnv = {
  INPUT_PATH: '/agent/_work/1/s',
  INPUT_FAILON: 'high',
  INPUT_RUNNER: 'docker',
  AGENT_TEMPDIRECTORY: '/agent/_work/_temp',
  AGENT_TOOLSDIRECTORY: '/agent/_work/_tool',
  BUILD_ARTIFACTSTAGINGDIRECTORY: '/agent/_work/1/a',
  BUILD_SOURCESDIRECTORY: '/agent/_work/1/s',
  SYSTEM_JOBID: 'job-1',
  SYSTEM_JOBATTEMPT: '2',
  SYSTEM_ACCESSTOKEN: 'do-not-pass',
  TF_BUILD: 'True',
  TOLLGATE_REGISTRY_PASSWORD: 'by-name-only',
  HOME: '/home/agent',
  PATH: '/usr/bin',
};

function opts(extra) {
  const made = [];
  return Object.assign({
    platform: 'linux', arch: 'x64', cwd: '/cwd', uid: 1001, gid: 121,
    socket: '/var/run/docker.sock',
    exists: (p) => p === '/var/run/docker.sock',
    mkdir: (p) => made.push(p),
    socketGid: () => 998,
    made,
  }, extra || {});
}

function pairs(args, flag) {
  const out = [];
  for (let i = 0; i < args.length - 1; i++) if (args[i] === flag) out.push(args[i + 1]);
  return out;
}

test('docker run mounts the agent folders at the same paths and runs as the agent user', () => {
  const o = opts();
  const args = shim.dockerArgs(agentEnv, o);
  assert.deepStrictEqual(args.slice(0, 2), ['run', '--rm']);
  const volumes = pairs(args, '-v');
  for (const p of ['/agent/_work/1/s', '/agent/_work/_temp', '/agent/_work/1/a', '/agent/_work/_tool/tollgate']) {
    assert.ok(volumes.includes(`${p}:${p}`), `${p} mounted at the same path: ${volumes}`);
  }
  assert.deepStrictEqual(pairs(args, '-w'), ['/agent/_work/1/s']);
  assert.deepStrictEqual(pairs(args, '--user'), ['1001:121']);
  assert.deepStrictEqual(o.made, ['/agent/_work/_tool/tollgate']);
  assert.deepStrictEqual(args.slice(-3), [shim.DEFAULT_IMAGE, 'tollgate', 'task']);
});

test('variables are passed by name, never the access token', () => {
  const args = shim.dockerArgs(agentEnv, opts());
  const env = pairs(args, '-e');
  for (const k of ['INPUT_PATH', 'INPUT_FAILON', 'SYSTEM_JOBID', 'SYSTEM_JOBATTEMPT', 'TF_BUILD', 'TOLLGATE_REGISTRY_PASSWORD']) {
    assert.ok(env.includes(k), `${k} passed: ${env}`);
  }
  assert.ok(!env.some((e) => e.includes('=') && !e.startsWith('DOCKER_CONFIG=')), `no value in argv: ${env}`);
  assert.ok(!args.join(' ').includes('SYSTEM_ACCESSTOKEN'));
  assert.ok(!args.join(' ').includes('by-name-only'));
  assert.ok(!('SYSTEM_ACCESSTOKEN' in shim.scanEnv(agentEnv)));
});

test('with prComments the access token is passed by name, its value never in argv', () => {
  const env = Object.assign({}, agentEnv, { INPUT_PRCOMMENTS: 'true', BUILD_REPOSITORY_PROVIDER: 'TfsGit', BUILD_REPOSITORY_ID: 'repo-id' });
  const args = shim.dockerArgs(env, opts());
  const names = pairs(args, '-e');
  for (const k of ['SYSTEM_ACCESSTOKEN', 'BUILD_REPOSITORY_PROVIDER', 'BUILD_REPOSITORY_ID', 'INPUT_PRCOMMENTS']) {
    assert.ok(names.includes(k), `${k} passed: ${names}`);
  }
  assert.ok(!args.join(' ').includes('do-not-pass'));
  assert.strictEqual(shim.scanEnv(env).SYSTEM_ACCESSTOKEN, 'do-not-pass');
  // prComments false (or absent): the token stays with the agent.
  const off = Object.assign({}, env, { INPUT_PRCOMMENTS: 'false' });
  assert.ok(!pairs(shim.dockerArgs(off, opts()), '-e').includes('SYSTEM_ACCESSTOKEN'));
  assert.ok(!('SYSTEM_ACCESSTOKEN' in shim.scanEnv(off)));
});

test('the docker socket is mounted only when daemon images are scanned', () => {
  assert.ok(!pairs(shim.dockerArgs(agentEnv, opts()), '-v').some((v) => v.includes('docker.sock')));
  const registryOnly = Object.assign({}, agentEnv, { INPUT_IMAGES: 'registry:myacr.azurecr.io/web:1\ndocker-archive:out/web.tar' });
  assert.ok(!pairs(shim.dockerArgs(registryOnly, opts()), '-v').some((v) => v.includes('docker.sock')));
  const daemon = Object.assign({}, agentEnv, { INPUT_IMAGES: 'registry:x/y:1\nmyapp:ci' });
  const args = shim.dockerArgs(daemon, opts());
  assert.ok(pairs(args, '-v').includes('/var/run/docker.sock:/var/run/docker.sock'));
  assert.deepStrictEqual(pairs(args, '--group-add'), ['998']);
});

test('the image input overrides the pinned image; a docker config is mounted read-only', () => {
  const env = Object.assign({}, agentEnv, { INPUT_IMAGE: 'registry.example/tollgate:dev' });
  const o = opts({ exists: (p) => p === '/home/agent/.docker' });
  const args = shim.dockerArgs(env, o);
  assert.ok(args.includes('registry.example/tollgate:dev'));
  assert.ok(pairs(args, '-v').includes('/home/agent/.docker:/home/agent/.docker:ro'));
  assert.ok(pairs(args, '-e').includes('DOCKER_CONFIG=/home/agent/.docker'));
});

test('runner auto picks the binary wherever a release archive fits, docker elsewhere', () => {
  const env = Object.assign({}, agentEnv, { INPUT_RUNNER: 'auto' });
  for (const [platform, arch, want] of [
    ['linux', 'x64', 'binary'], ['linux', 'arm64', 'binary'], ['darwin', 'x64', 'binary'], ['darwin', 'arm64', 'binary'],
    ['win32', 'x64', 'binary'], ['win32', 'arm64', 'docker'], ['linux', 'ppc64', 'docker'], ['freebsd', 'x64', 'docker'],
  ]) {
    assert.strictEqual(shim.chooseRunner(env, opts({ platform, arch })).runner, want, `${platform}/${arch}`);
  }
  const binary = Object.assign({}, agentEnv, { INPUT_RUNNER: 'binary' });
  assert.match(shim.chooseRunner(binary, opts({ platform: 'linux', arch: 's390x' })).error, /no release for linux\/s390x/);
  assert.strictEqual(shim.chooseRunner(Object.assign({}, agentEnv, { INPUT_RUNNER: 'docker' }), opts()).runner, 'docker');
  assert.match(shim.chooseRunner(Object.assign({}, agentEnv, { INPUT_RUNNER: 'podman' }), opts()).error, /not auto, docker or binary/);
});

test('PATH lookups follow the agent\'s platform: Windows paths, Path and tollgate.exe', () => {
  const win = { Path: 'C:\\hostedtoolcache\\windows\\tollgate\\1.0.0\\x64;D:\\a\\_tool\\bin' };
  const want = 'D:\\a\\_tool\\bin\\tollgate.exe';
  assert.strictEqual(shim.findOnPath(win, 'tollgate.exe', 'win32', (p) => p === want), want);
  const unc = { PATH: '\\\\fileserver\\tools;C:\\x' };
  assert.strictEqual(shim.findOnPath(unc, 'tollgate.exe', 'win32', (p) => p === '\\\\fileserver\\tools\\tollgate.exe'), '\\\\fileserver\\tools\\tollgate.exe');
  assert.strictEqual(shim.findOnPath({ PATH: '/opt/tg/bin:/usr/bin' }, 'tollgate', 'linux', (p) => p === '/opt/tg/bin/tollgate'), '/opt/tg/bin/tollgate');
  assert.strictEqual(shim.findOnPath({ PATH: '/usr/bin' }, 'tollgate', 'linux', () => false), '');
});

function fakeSpawn(code, calls) {
  return (cmd, args, o) => {
    const call = { cmd, args, env: o.env, stdio: o.stdio, fd3: null };
    calls.push(call);
    const child = new EventEmitter();
    if (Array.isArray(o.stdio) && o.stdio[3] === 'pipe') {
      const pipe = new PassThrough();
      let text = '';
      pipe.on('data', (b) => { text += b; });
      pipe.on('end', () => { call.fd3 = text; });
      child.stdio = [null, null, null, pipe];
    }
    setTimeout(() => child.emit('close', code, null), 5);
    return child;
  };
}

function out() {
  const o = { text: '' };
  o.write = (s) => { o.text += s; };
  return o;
}

test('binary mode runs `tollgate task` and passes its exit code on', async () => {
  for (const code of [0, 1, 3]) {
    const calls = [];
    const bin = '/opt/tg/tollgate';
    const env = Object.assign({}, agentEnv, { INPUT_RUNNER: 'binary', PATH: '/opt/tg' });
    const got = await shim.run(env, Object.assign(opts(), {
      install: async () => bin,
      spawn: fakeSpawn(code, calls), spawnSync: () => assert.fail('no docker probe in binary mode'), stdout: out(),
    }));
    assert.strictEqual(got, code);
    assert.strictEqual(calls[0].cmd, bin);
    assert.deepStrictEqual(calls[0].args, ['task']);
    assert.strictEqual(calls[0].stdio, 'inherit');
    assert.ok(!('SYSTEM_ACCESSTOKEN' in calls[0].env));
  }
});

test('binary mode hands the access token over a pipe, never in the environment', async () => {
  const calls = [];
  const env = Object.assign({}, agentEnv, { INPUT_RUNNER: 'binary', INPUT_PRCOMMENTS: 'true', PATH: '/opt/tg' });
  const got = await shim.run(env, Object.assign(opts(), {
    install: async () => '/opt/tg/tollgate',
    spawn: fakeSpawn(1, calls), spawnSync: () => assert.fail('no docker probe in binary mode'), stdout: out(),
  }));
  assert.strictEqual(got, 1);
  assert.ok(!('SYSTEM_ACCESSTOKEN' in calls[0].env));
  assert.strictEqual(calls[0].env.TOLLGATE_SECRETS_FD, '3');
  assert.deepStrictEqual(calls[0].stdio, ['inherit', 'inherit', 'inherit', 'pipe']);
  assert.deepStrictEqual(JSON.parse(calls[0].fd3), { SYSTEM_ACCESSTOKEN: 'do-not-pass' });
  // On a Windows agent (no /proc, no descriptor 3 for Go) it stays in the environment.
  const win = [];
  await shim.run(env, Object.assign(opts(), {
    platform: 'win32',
    install: async () => 'C:\\tg\\tollgate.exe',
    spawn: fakeSpawn(0, win), spawnSync: () => assert.fail('no docker probe'), stdout: out(),
  }));
  assert.strictEqual(win[0].env.SYSTEM_ACCESSTOKEN, 'do-not-pass');
  assert.strictEqual(win[0].stdio, 'inherit');
});

test('docker mode runs the image and passes its exit code on', async () => {
  const calls = [];
  const o = out();
  const got = await shim.run(agentEnv, Object.assign(opts(), {
    spawn: fakeSpawn(1, calls),
    spawnSync: () => ({ status: 0, stdout: '28.2.2' }),
    stdout: o,
  }));
  assert.strictEqual(got, 1);
  assert.strictEqual(calls[0].cmd, 'docker');
  assert.strictEqual(calls[0].args[0], 'run');
  assert.strictEqual(o.text, '');
});

test('missing docker fails the task with a clear message', async () => {
  const o = out();
  const err = Object.assign(new Error('spawnSync docker ENOENT'), { code: 'ENOENT' });
  const got = await shim.run(agentEnv, Object.assign(opts(), {
    spawn: () => assert.fail('must not run'),
    spawnSync: () => ({ error: err }),
    stdout: o,
  }));
  assert.strictEqual(got, 3);
  assert.match(o.text, /##vso\[task\.logissue type=error\]Tollgate: Docker is not available on this agent/);
  assert.match(o.text, /Use runner: binary/);
  assert.match(o.text, /##vso\[task\.complete result=Failed\]/);
  assert.strictEqual(o.text.split('\n').filter(Boolean).length, 2);
});

test('an unknown runner is a usage error', async () => {
  const o = out();
  const got = await shim.run(Object.assign({}, agentEnv, { INPUT_RUNNER: 'podman' }), Object.assign(opts(), { stdout: o }));
  assert.strictEqual(got, 2);
  assert.match(o.text, /task\.complete result=Failed/);
});

test('the image input is an image reference, never a docker flag', async () => {
  for (const bad of ['--privileged', '-v=/:/host', 'alpine --privileged', 'a;b', '', ' ']) {
    assert.strictEqual(shim.isImageRef(bad), false, bad);
  }
  for (const good of ['ghcr.io/tollgate/tollgate:1.0.0', 'tollgate:dev', 'localhost:5000/team/scan@sha256:' + 'ab'.repeat(32)]) {
    assert.strictEqual(shim.isImageRef(good), true, good);
  }
  const o = out();
  const got = await shim.run(Object.assign({}, agentEnv, { INPUT_RUNNER: 'docker', INPUT_IMAGE: '--privileged' }), Object.assign(opts(), {
    spawn: () => assert.fail('must not run docker'),
    spawnSync: () => ({ status: 0, stdout: '28.2.2' }),
    stdout: o,
  }));
  assert.strictEqual(got, 2);
  assert.match(o.text, /input image: "--privileged" is not an image reference/);
  assert.match(o.text, /task\.complete result=Failed/);
});

test('an install that fails ends the task with its error, and nothing runs', async () => {
  const o = out();
  const got = await shim.run(Object.assign({}, agentEnv, { INPUT_RUNNER: 'binary' }), Object.assign(opts(), {
    install: async () => { throw new Error('could not download http://mirror/x.tar.gz (HTTP 404). Set the task\'s downloadUrl input'); },
    spawn: () => assert.fail('must not run'),
    stdout: o,
  }));
  assert.strictEqual(got, 3);
  assert.match(o.text, /##vso\[task\.logissue type=error\]Tollgate: could not download http:\/\/mirror\/x\.tar\.gz \(HTTP 404\)/);
  assert.match(o.text, /task\.complete result=Failed/);
});

test('shard and merge jobs get their position and the workspace the shard logs are downloaded to', () => {
  const shard = Object.assign({}, agentEnv, { INPUT_MODE: 'shard', SYSTEM_JOBPOSITIONINPHASE: '2', SYSTEM_TOTALJOBSINPHASE: '4', PIPELINE_WORKSPACE: '/agent/_work/1' });
  const sargs = shim.dockerArgs(shard, opts());
  for (const k of ['INPUT_MODE', 'SYSTEM_JOBPOSITIONINPHASE', 'SYSTEM_TOTALJOBSINPHASE']) {
    assert.ok(pairs(sargs, '-e').includes(k), `${k} passed`);
  }
  assert.ok(!pairs(sargs, '-v').includes('/agent/_work/1:/agent/_work/1:ro'), 'a shard does not read the workspace');
  const merge = Object.assign({}, shard, { INPUT_MODE: 'merge' });
  const margs = shim.dockerArgs(merge, opts());
  assert.ok(pairs(margs, '-v').includes('/agent/_work/1:/agent/_work/1:ro'), `workspace mounted read-only: ${pairs(margs, '-v')}`);
  assert.ok(pairs(margs, '-e').includes('PIPELINE_WORKSPACE'));
});
