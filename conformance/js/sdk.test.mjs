// Conformance of an E2B-compatible server (such as `tta serve`) with E2B's
// official JS SDKs, used unmodified: npm `e2b` and `@e2b/code-interpreter` at
// the versions pinned in package.json.
//
// Configuration comes only from the environment, exactly as `tta serve` prints
// it: E2B_API_URL, E2B_SANDBOX_URL, E2B_API_KEY (E2B_DOMAIN may also be set).
// Without E2B_API_URL every test is skipped.
//
//   node --test sdk.test.mjs      (or ./run.sh, which installs packages first)
//
// Every test creates its own sandbox and kills it when it ends, pass or fail.
// WIRE.md beside this file lists what the SDK sends and expects on the wire.

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'

const env = process.env
const SKIP = env.E2B_API_URL
  ? false
  : 'E2B_API_URL is not set: start `tta serve`, export the E2B_* variables it prints, then run again'

// The SDK is loaded only when there is a server to talk to, so the skip
// message shows even before `npm ci` has run.
const sdk = SKIP ? null : await import('@e2b/code-interpreter')

// Time limits: a broken server fails a test in seconds, not at the runner's
// default of never.
const REQUEST_MS = 20_000 // each HTTP request, until response headers arrive
const EXEC_MS = 30_000 // a code execution or command, start to end
const TEST_MS = 90_000 // a whole test, cleanup included
const SANDBOX_TTL_MS = 300_000 // sandbox lifetime if cleanup never runs
const MAX_PAGES = 50 // bound on Sandbox.list pagination loops
// For runCode calls expected to fail: @e2b/code-interpreter leaves its request
// timer running when the server answers an error status, which keeps node alive
// until it fires.
const FAILING_REQUEST_MS = 5_000

const HOME = '/home/user'
const DIR = `${HOME}/tta-conformance`

/** Creates a sandbox that is killed when the test ends, whatever its outcome. */
async function newSandbox(t, opts = {}) {
  const sbx = await sdk.Sandbox.create({
    timeoutMs: SANDBOX_TTL_MS,
    requestTimeoutMs: REQUEST_MS,
    ...opts,
  })
  t.after(async () => {
    try {
      await sbx.kill({ requestTimeoutMs: REQUEST_MS })
    } catch (err) {
      t.diagnostic(`cleanup: killing sandbox ${sbx.sandboxId} failed: ${err}`)
    }
  })
  return sbx
}

/** runCode with this suite's time limits. */
function run(sbx, code, opts = {}) {
  return sbx.runCode(code, { timeoutMs: EXEC_MS, requestTimeoutMs: REQUEST_MS, ...opts })
}

/** commands.run with this suite's time limits. */
function sh(sbx, cmd, opts = {}) {
  return sbx.commands.run(cmd, { timeoutMs: EXEC_MS, requestTimeoutMs: REQUEST_MS, ...opts })
}

/** Every sandbox Sandbox.list yields for opts, across all pages. */
async function listAll(opts = {}) {
  const pager = sdk.Sandbox.list({ requestTimeoutMs: REQUEST_MS, ...opts })
  const out = []
  for (let page = 0; pager.hasNext; page++) {
    assert.ok(page < MAX_PAGES, `Sandbox.list did not stop after ${MAX_PAGES} pages (X-Next-Token never empty?)`)
    out.push(...(await pager.nextItems()))
  }
  return out
}

const stdoutOf = (execution) => execution.logs.stdout.join('')
const stderrOf = (execution) => execution.logs.stderr.join('')
const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*m/g, '')

const it = (name, opts, fn) =>
  typeof opts === 'function' ? test(name, { timeout: TEST_MS }, opts) : test(name, { timeout: TEST_MS, ...opts }, fn)

describe('E2B official JS SDK against an E2B-compatible server', { skip: SKIP }, () => {
  it('configuration is what the SDK needs', () => {
    const pinned = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')).dependencies
    for (const name of ['e2b', '@e2b/code-interpreter']) {
      const installed = JSON.parse(
        readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url), 'utf8'),
      ).version
      assert.equal(installed, pinned[name], `${name} ${installed} is installed, package.json pins ${pinned[name]}: run npm ci`)
    }
    assert.ok(env.E2B_API_KEY, 'E2B_API_KEY is not set: the SDK refuses to send any request without it')
    assert.notEqual(
      (env.E2B_DEBUG ?? '').toLowerCase(),
      'true',
      'E2B_DEBUG=true makes the SDK fake create and kill without contacting E2B_API_URL: unset it',
    )
    if (env.E2B_API_URL.startsWith('http://')) {
      assert.ok(
        env.E2B_SANDBOX_URL,
        'E2B_API_URL is plain http but E2B_SANDBOX_URL is not set: the SDK would reach sandboxes at https://<port>-<id>.<domain> ' +
          '(or https://sandbox.e2b.app), never at this server',
      )
    }
    if (env.E2B_SANDBOX_URL) {
      assert.ok(
        !env.E2B_SANDBOX_URL.endsWith('/'),
        'E2B_SANDBOX_URL ends with "/": @e2b/code-interpreter appends "/execute" verbatim and would request "//execute"',
      )
    }
  })

  it('Sandbox.create gives a running sandbox with info, timeout and metadata', async (t) => {
    const before = Date.now()
    const sbx = await newSandbox(t, { metadata: { purpose: 'tta-conformance' } })
    assert.equal(typeof sbx.sandboxId, 'string')
    assert.ok(sbx.sandboxId.length > 0, 'empty sandboxID')
    assert.equal(await sbx.isRunning({ requestTimeoutMs: REQUEST_MS }), true, 'envd GET /health did not answer 2xx')

    const info = await sbx.getInfo({ requestTimeoutMs: REQUEST_MS })
    assert.equal(info.sandboxId, sbx.sandboxId)
    assert.ok(info.templateId, 'templateID is empty')
    assert.equal(info.state, 'running')
    assert.equal(info.metadata.purpose, 'tta-conformance')
    assert.ok(!Number.isNaN(info.startedAt.getTime()), 'startedAt is not a date')
    assert.ok(info.endAt > info.startedAt, 'endAt is not after startedAt')
    assert.ok(info.envdVersion, 'envdVersion is empty')

    await sbx.setTimeout(120_000, { requestTimeoutMs: REQUEST_MS })
    const extended = await sbx.getInfo({ requestTimeoutMs: REQUEST_MS })
    const left = extended.endAt.getTime() - before
    assert.ok(left > 90_000 && left < 150_000, `after setTimeout(120 s) endAt is ${left} ms away`)
  })

  it('Sandbox.connect reaches an existing sandbox and its state', async (t) => {
    const sbx = await newSandbox(t)
    await run(sbx, 'tta_connected = 5')
    const again = await sdk.Sandbox.connect(sbx.sandboxId, { requestTimeoutMs: REQUEST_MS, timeoutMs: SANDBOX_TTL_MS })
    assert.equal(again.sandboxId, sbx.sandboxId)
    assert.equal((await run(again, 'tta_connected + 1')).text, '6')
  })

  it('runCode returns the value of the last expression and stdout', async (t) => {
    const sbx = await newSandbox(t)
    const execution = await run(sbx, 'print("hello from tta")\n1 + 1')
    assert.equal(execution.error, undefined)
    assert.equal(execution.text, '2')
    assert.equal(execution.results.length, 1)
    assert.equal(execution.results[0].isMainResult, true)
    assert.equal(stdoutOf(execution), 'hello from tta\n')
    assert.equal(stderrOf(execution), '')
    assert.equal(typeof execution.executionCount, 'number', 'no number_of_executions line')
  })

  it('state persists across runs', async (t) => {
    const sbx = await newSandbox(t)
    const first = await run(sbx, 'import math\ntta_state = 41')
    assert.equal(first.error, undefined)
    assert.equal(first.text, undefined, 'an assignment has no main result')
    assert.equal((await run(sbx, 'tta_state + 1')).text, '42')
    assert.equal((await run(sbx, 'math.floor(tta_state / 2)')).text, '20')
  })

  it('onStdout and onStderr receive output while the code runs', async (t) => {
    const sbx = await newSandbox(t)
    const out = []
    const err = []
    const results = []
    let firstAt = 0
    const execution = await run(
      sbx,
      'import sys, time\nprint("tta-first")\nprint("tta-err", file=sys.stderr)\ntime.sleep(1.5)\nprint("tta-second")\n"done"',
      {
        onStdout: (m) => {
          firstAt ||= Date.now()
          out.push(m)
        },
        onStderr: (m) => err.push(m),
        onResult: (r) => results.push(r),
      },
    )
    const endAt = Date.now()
    assert.equal(out.map((m) => m.line).join(''), 'tta-first\ntta-second\n')
    assert.ok(out.every((m) => m.error === false), 'stdout messages must have error: false')
    assert.equal(err.map((m) => m.line).join(''), 'tta-err\n')
    assert.ok(err.every((m) => m.error === true), 'stderr messages must have error: true')
    assert.equal(stdoutOf(execution), 'tta-first\ntta-second\n')
    assert.equal(results.length, 1)
    assert.equal(results[0].text, 'done', "E2B's interpreter shows a str without its quotes")
    assert.ok(
      endAt - firstAt >= 1000,
      `first stdout arrived only ${endAt - firstAt} ms before the end: output is buffered, not streamed`,
    )
  })

  it('a raised exception is an execution error with name, value and traceback', async (t) => {
    const sbx = await newSandbox(t)
    const errors = []
    const execution = await run(sbx, 'print("before")\nraise ValueError("tta boom")', { onError: (e) => errors.push(e) })
    assert.ok(execution.error, 'no error in the execution')
    assert.equal(execution.error.name, 'ValueError')
    assert.equal(execution.error.value, 'tta boom')
    assert.equal(typeof execution.error.traceback, 'string')
    assert.match(stripAnsi(execution.error.traceback), /ValueError/)
    assert.equal(errors.length, 1, 'onError must be called once')
    assert.equal(stdoutOf(execution), 'before\n')
    assert.equal(execution.results.length, 0)
    assert.equal((await run(sbx, '2 * 21')).text, '42', 'the context must survive an error')
  })

  it('per-run envs override sandbox envs for that run only', async (t) => {
    const sbx = await newSandbox(t, { envs: { TTA_SCOPE: 'sandbox', TTA_GLOBAL: 'global' } })
    const code = 'import os\nprint(os.environ.get("TTA_SCOPE"), os.environ.get("TTA_RUN_ONLY"), os.environ.get("TTA_GLOBAL"))'
    const scoped = await run(sbx, code, { envs: { TTA_SCOPE: 'run', TTA_RUN_ONLY: 'yes' } })
    assert.equal(stdoutOf(scoped), 'run yes global\n')
    const plain = await run(sbx, code)
    assert.equal(stdoutOf(plain), 'sandbox None global\n', 'per-run envs leaked into the next run')
    assert.equal((await sh(sbx, 'echo "$TTA_GLOBAL"')).stdout, 'global\n', 'sandbox envs must reach commands')
    assert.equal((await sh(sbx, 'echo "$TTA_SCOPE"', { envs: { TTA_SCOPE: 'cmd' } })).stdout, 'cmd\n')
  })

  it('code contexts: create, run in, list, restart, remove', async (t) => {
    const sbx = await newSandbox(t)
    const ctx = await sbx.createCodeContext({ language: 'python', cwd: HOME, requestTimeoutMs: REQUEST_MS })
    assert.equal(typeof ctx.id, 'string')
    assert.ok(ctx.id.length > 0, 'empty context id')
    assert.equal(ctx.language, 'python')
    assert.equal(ctx.cwd, HOME)

    await run(sbx, 'tta_ctx = 7', { context: ctx })
    assert.equal((await run(sbx, 'tta_ctx * 6', { context: ctx })).text, '42')
    assert.equal((await run(sbx, 'tta_ctx')).error?.name, 'NameError', 'the default context must not see another context')

    const listed = await sbx.listCodeContexts()
    assert.ok(Array.isArray(listed), 'GET /contexts must answer a JSON array')
    assert.ok(listed.some((c) => c.id === ctx.id), 'created context missing from listCodeContexts')

    await sbx.restartCodeContext(ctx)
    assert.equal((await run(sbx, 'tta_ctx', { context: ctx })).error?.name, 'NameError', 'restart must clear state')

    await sbx.removeCodeContext(ctx.id)
    assert.ok(!(await sbx.listCodeContexts()).some((c) => c.id === ctx.id), 'removed context still listed')
    await assert.rejects(
      run(sbx, '1', { context: ctx, requestTimeoutMs: FAILING_REQUEST_MS }),
      'running in a removed context must fail',
    )

    const fresh = await sbx.createCodeContext()
    assert.equal(fresh.language, 'python', 'a context created without a language is python')
  })

  it('languages: python explicitly', async (t) => {
    const sbx = await newSandbox(t)
    assert.equal((await run(sbx, '6 * 7', { language: 'python' })).text, '42')
  })

  it('languages: javascript keeps state, prints and raises', async (t) => {
    const sbx = await newSandbox(t)
    const first = await run(sbx, 'let ttaJs = 20\nconsole.log("hello from js")', { language: 'javascript' })
    assert.equal(first.error, undefined)
    assert.equal(stdoutOf(first), 'hello from js\n')
    assert.equal((await run(sbx, 'ttaJs * 2 + 2', { language: 'javascript' })).text, '42')
    const failed = await run(sbx, 'throw new Error("js boom")', { language: 'javascript' })
    assert.ok(failed.error, 'a thrown error must be an execution error')
    assert.equal(failed.error.value, 'js boom')
  })

  it('languages: bash', async (t) => {
    const sbx = await newSandbox(t)
    const execution = await run(sbx, 'echo "tta $((6 * 7))"', { language: 'bash' })
    assert.equal(execution.error, undefined)
    assert.equal(stdoutOf(execution), 'tta 42\n')
  })

  it('files: write, read, list, exists, and the other planes see them', async (t) => {
    const sbx = await newSandbox(t)
    const text = 'hello from the SDK\n'
    const entry = await sbx.files.write(`${DIR}/hello.txt`, text, { requestTimeoutMs: REQUEST_MS })
    assert.equal(entry.name, 'hello.txt')
    assert.equal(entry.path, `${DIR}/hello.txt`)
    assert.equal(await sbx.files.read(`${DIR}/hello.txt`), text)

    await sbx.files.write(`${DIR}/sub/nested.txt`, 'nested')
    await sbx.files.write(`${DIR}/empty.txt`, '')
    assert.equal(await sbx.files.read(`${DIR}/empty.txt`), '')

    const entries = await sbx.files.list(DIR)
    const byName = Object.fromEntries(entries.map((e) => [e.name, e]))
    assert.deepEqual(Object.keys(byName).sort(), ['empty.txt', 'hello.txt', 'sub'])
    assert.equal(byName['hello.txt'].type, 'file')
    assert.equal(byName['hello.txt'].path, `${DIR}/hello.txt`)
    assert.equal(byName['hello.txt'].size, Buffer.byteLength(text))
    assert.equal(byName.sub.type, 'dir')

    assert.equal(await sbx.files.exists(`${DIR}/hello.txt`), true)
    assert.equal(await sbx.files.exists(`${DIR}/absent.txt`), false)

    const printed = await run(sbx, `print(open("${DIR}/hello.txt").read(), end="")`)
    assert.equal(stdoutOf(printed), text, 'the interpreter does not see the written file')
    assert.equal((await sh(sbx, `cat ${DIR}/sub/nested.txt`)).stdout, 'nested', 'commands do not see the written file')
    await sh(sbx, `echo from-shell > ${DIR}/shell.txt`)
    assert.equal(await sbx.files.read(`${DIR}/shell.txt`), 'from-shell\n', 'files.read does not see a file a command wrote')
  })

  it('files: relative paths, binary data, several files at once, missing file', async (t) => {
    const sbx = await newSandbox(t)
    await sbx.files.write('tta-relative.txt', 'relative')
    assert.equal(await sbx.files.read(`${HOME}/tta-relative.txt`), 'relative', 'a relative path must land in /home/user')

    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)
    await sbx.files.write(`${DIR}/bytes.bin`, bytes.buffer)
    assert.deepEqual(await sbx.files.read(`${DIR}/bytes.bin`, { format: 'bytes' }), bytes)

    // One multipart request, one part per file; each part's filename carries the full path.
    const written = await sbx.files.write([
      { path: `${DIR}/multi/a.txt`, data: 'A' },
      { path: `${DIR}/multi/deeper/b.txt`, data: 'B' },
    ])
    assert.ok(Array.isArray(written), 'writing several files must answer an array')
    assert.deepEqual(written.map((e) => e.path).sort(), [`${DIR}/multi/a.txt`, `${DIR}/multi/deeper/b.txt`])
    assert.equal(await sbx.files.read(`${DIR}/multi/a.txt`), 'A')
    assert.equal(await sbx.files.read(`${DIR}/multi/deeper/b.txt`), 'B')

    await assert.rejects(sbx.files.read(`${DIR}/missing.txt`), sdk.FileNotFoundError)
    await assert.rejects(sbx.files.list(`${DIR}/missing-dir`), sdk.FileNotFoundError)
  })

  it('commands.run returns stdout, stderr and exit code', async (t) => {
    const sbx = await newSandbox(t)
    const result = await sh(sbx, 'echo out; echo err >&2; echo "${BASH_VERSION:+bash}"')
    assert.equal(result.exitCode, 0)
    assert.equal(result.stdout, 'out\nbash\n')
    assert.equal(result.stderr, 'err\n')

    await sbx.files.makeDir(DIR)
    const placed = await sh(sbx, 'echo "$TTA_CMD"; pwd', { envs: { TTA_CMD: 'cmd-env' }, cwd: DIR })
    const [envLine, cwdLine] = placed.stdout.trimEnd().split('\n')
    assert.equal(envLine, 'cmd-env')
    assert.ok(cwdLine.endsWith('/tta-conformance'), `cwd ${cwdLine} is not ${DIR}`)
  })

  it('commands.run with a non-zero exit throws CommandExitError', async (t) => {
    const sbx = await newSandbox(t)
    await assert.rejects(sh(sbx, 'echo partial; echo bad >&2; exit 3'), (err) => {
      assert.ok(err instanceof sdk.CommandExitError, `expected CommandExitError, got ${err?.name}: ${err?.message}`)
      assert.equal(err.exitCode, 3)
      assert.equal(err.stdout, 'partial\n')
      assert.equal(err.stderr, 'bad\n')
      return true
    })
  })

  it('commands.run streams output to onStdout and onStderr', async (t) => {
    const sbx = await newSandbox(t)
    const out = []
    const err = []
    let firstAt = 0
    const result = await sh(sbx, 'echo one; echo two >&2; sleep 1.5; echo three', {
      onStdout: (data) => {
        firstAt ||= Date.now()
        out.push(data)
      },
      onStderr: (data) => err.push(data),
    })
    const endAt = Date.now()
    assert.equal(out.join(''), 'one\nthree\n')
    assert.equal(err.join(''), 'two\n')
    assert.equal(result.stdout, 'one\nthree\n')
    assert.ok(endAt - firstAt >= 1000, `first stdout arrived only ${endAt - firstAt} ms before the end: not streamed`)
  })

  it('a background command is listed and can be killed', async (t) => {
    const sbx = await newSandbox(t)
    const handle = await sh(sbx, 'sleep 30', { background: true })
    assert.ok(handle.pid > 0, `pid ${handle.pid}`)
    const running = await sbx.commands.list({ requestTimeoutMs: REQUEST_MS })
    assert.ok(running.some((p) => p.pid === handle.pid), 'the background command is missing from commands.list')
    assert.equal(await handle.kill(), true)
    await assert.rejects(handle.wait(), sdk.CommandExitError, 'a killed command must end with a non-zero exit')
    assert.equal(await sbx.commands.kill(handle.pid), false, 'killing an ended command must report not found')
  })

  it('kill ends the sandbox; later calls see it gone', async (t) => {
    const sbx = await newSandbox(t)
    const id = sbx.sandboxId
    assert.equal(await sbx.kill({ requestTimeoutMs: REQUEST_MS }), true)
    assert.equal(await sdk.Sandbox.kill(id, { requestTimeoutMs: REQUEST_MS }), false, 'a second kill must answer 404 {"code":404}')
    await assert.rejects(sdk.Sandbox.getInfo(id, { requestTimeoutMs: REQUEST_MS }), sdk.SandboxNotFoundError)
    assert.equal(await sbx.isRunning({ requestTimeoutMs: REQUEST_MS }), false, 'envd /health of a killed sandbox must answer 502')
    await assert.rejects(run(sbx, '1', { requestTimeoutMs: FAILING_REQUEST_MS }))
    await assert.rejects(sh(sbx, 'true'))
    await assert.rejects(sbx.files.read(`${HOME}/anything.txt`))
  })

  it('Sandbox.list finds sandboxes by metadata and state', async (t) => {
    // A space and a slash: the SDK escapes metadata filters twice, so a server
    // that decodes them only once finds nothing.
    const tag = `run ${process.pid}-${Date.now()}/list`
    const metadata = { 'tta-conformance': tag }
    const sbx = await newSandbox(t, { metadata })

    const mine = await listAll({ query: { metadata } })
    assert.deepEqual(mine.map((s) => s.sandboxId), [sbx.sandboxId], 'metadata filter')
    const [info] = mine
    assert.equal(info.metadata['tta-conformance'], tag)
    assert.equal(info.state, 'running')
    assert.ok(info.templateId, 'templateID is empty')
    assert.ok(!Number.isNaN(info.startedAt.getTime()), 'startedAt is not a date')

    assert.ok((await listAll()).some((s) => s.sandboxId === sbx.sandboxId), 'unfiltered list misses the sandbox')
    assert.equal((await listAll({ query: { metadata, state: ['running'] } })).length, 1, 'state=running filter')
    assert.equal((await listAll({ query: { metadata, state: ['paused'] } })).length, 0, 'state=paused filter')
    assert.equal((await listAll({ query: { metadata: { 'tta-conformance': `${tag}-other` } } })).length, 0)

    await sbx.kill({ requestTimeoutMs: REQUEST_MS })
    assert.equal((await listAll({ query: { metadata } })).length, 0, 'a killed sandbox is still listed')
  })

  it('Sandbox.list pages with limit and X-Next-Token', async (t) => {
    const metadata = { 'tta-conformance': `pages-${process.pid}-${Date.now()}` }
    const a = await newSandbox(t, { metadata })
    const b = await newSandbox(t, { metadata })
    const pager = sdk.Sandbox.list({ query: { metadata }, limit: 1, requestTimeoutMs: REQUEST_MS })
    const first = await pager.nextItems()
    assert.equal(first.length, 1, 'limit=1 must give one sandbox a page')
    assert.equal(pager.hasNext, true, 'no X-Next-Token after a full page')
    const second = await pager.nextItems()
    assert.equal(second.length, 1)
    const seen = [...first, ...second].map((s) => s.sandboxId).sort()
    assert.deepEqual(seen, [a.sandboxId, b.sandboxId].sort())
    if (pager.hasNext) {
      assert.equal((await pager.nextItems()).length, 0, 'a page after the last must be empty')
    }
  })

  it('a confined local sandbox reaches none of the host through runCode, commands.run or files',
    { skip: env.TTA_CONFINED ? false : 'the server does not say its sandboxes are confined (TTA_CONFINED unset)' },
    async (t) => {
      const sbx = await newSandbox(t)
      for (const code of ["open('/etc/shadow').read()", "import os\nos.listdir('/root')"]) {
        const execution = await run(sbx, code)
        assert.ok(execution.error, `runCode ${code} succeeded: ${execution.text}`)
      }
      assert.equal((await run(sbx, "import os\nos.listdir('/home')")).text, "['user']")
      for (const cmd of ['cat /etc/shadow', 'ls /root', 'ln -sf / up && cat up/etc/shadow']) {
        await assert.rejects(sh(sbx, cmd), sdk.CommandExitError, `commands.run ${cmd} succeeded`)
      }
      assert.equal((await sh(sbx, 'id -u')).stdout, '1000\n')
      await assert.rejects(sbx.files.read('/etc/shadow', { requestTimeoutMs: REQUEST_MS }), `files.read /etc/shadow succeeded`)
    })

  it('secured sandbox: the SDK sends the envd access token, the server enforces it', async (t) => {
    const sbx = await newSandbox(t)
    if (!sbx.envdAccessToken) {
      t.skip('the create response carried no envdAccessToken (e2b 2.51 never sends "secure"; it uses a token only when the server returns one)')
      return
    }
    // Every SDK call below carries X-Access-Token.
    await sbx.files.write(`${DIR}/secure.txt`, 'secret')
    assert.equal(await sbx.files.read(`${DIR}/secure.txt`), 'secret')
    assert.equal((await sh(sbx, 'echo ok')).stdout, 'ok\n')
    assert.equal((await run(sbx, '40 + 2')).text, '42')
    assert.ok(Array.isArray(await sbx.listCodeContexts()), 'contexts calls carry no X-Access-Token and must still work')
    if (!env.E2B_SANDBOX_URL) return
    // The same envd request without the token must be refused.
    const res = await fetch(`${env.E2B_SANDBOX_URL}/files?path=${encodeURIComponent(`${DIR}/secure.txt`)}`, {
      headers: { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '49983' },
      signal: AbortSignal.timeout(REQUEST_MS),
    })
    await res.body?.cancel()
    assert.equal(res.status, 401, 'envd answered a request without X-Access-Token')
  })
})
