// JavaScript kernel driver of the tta local runtime (node built-ins only).
//
// Same protocol as the Python driver: requests on fd 3, events on fd 4, one
// JSON object a line, each event carrying the request's id. The code runs in a
// persistent vm context, so declarations persist across executions; the
// completion value of the code is the main result (awaited when a promise).
// SIGINT interrupts the running code.
'use strict';

const fs = require('fs');
const path = require('path');
const util = require('util');
const vm = require('vm');
const { Module } = require('module');
const { Console } = require('console');

const EVENTS_FD = 4;
let execId = 0;
let running = null; // {reject} while an execution awaits a promise

function nowNs() {
  return Math.round((performance.timeOrigin + performance.now()) * 1e6);
}

function send(event) {
  event.id = execId;
  const buf = Buffer.from(JSON.stringify(event) + '\n', 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(EVENTS_FD, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

function output(name, chunk, encoding) {
  let text = chunk;
  if (typeof chunk !== 'string') {
    text = Buffer.from(chunk).toString('utf8');
  } else if (encoding && encoding !== 'utf8' && encoding !== 'utf-8' && Buffer.isEncoding(encoding)) {
    text = Buffer.from(chunk, encoding).toString('utf8');
  }
  if (text.length > 0) send({ type: name, text, timestamp: nowNs() });
}

// process.stdout and process.stderr writes become stream events too.
function patchStream(stream, name) {
  stream.write = function write(chunk, encoding, cb) {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    output(name, chunk, encoding);
    if (typeof cb === 'function') process.nextTick(cb);
    return true;
  };
}
patchStream(process.stdout, 'stdout');
patchStream(process.stderr, 'stderr');

const sandboxConsole = new Console({ stdout: process.stdout, stderr: process.stderr });
const cellRequire = Module.createRequire(path.join(process.cwd(), '[cell]'));

const context = vm.createContext({
  console: sandboxConsole,
  require: cellRequire,
  module: { exports: {} },
  process,
  Buffer,
  URL,
  URLSearchParams,
  TextEncoder,
  TextDecoder,
  AbortController,
  AbortSignal,
  Event,
  EventTarget,
  fetch: globalThis.fetch,
  structuredClone,
  queueMicrotask,
  setTimeout,
  clearTimeout,
  setInterval,
  clearInterval,
  setImmediate,
  clearImmediate,
  performance,
  atob,
  btoa,
});
vm.runInContext('globalThis.global = globalThis;', context);

function isCellFrame(line, count) {
  return line.includes('cell-' + count + ':') || line.includes('cell-' + count + ')');
}

function errorEvent(err, count) {
  if (err === null || typeof err !== 'object') {
    return { type: 'error', name: 'Error', value: String(err), traceback: 'Uncaught ' + util.inspect(err) };
  }
  const name = err.name || (err.constructor && err.constructor.name) || 'Error';
  const value = err.message === undefined ? String(err) : String(err.message);
  let stack = typeof err.stack === 'string' ? err.stack : name + ': ' + value;
  const lines = stack.split('\n');
  let last = -1;
  for (let i = 0; i < lines.length; i++) {
    if (isCellFrame(lines[i], count)) last = i;
  }
  if (last >= 0) {
    stack = lines.slice(0, last + 1).join('\n');
  } else {
    const firstFrame = lines.findIndex((l) => /^\s+at /.test(l));
    if (firstFrame >= 0) stack = lines.slice(0, firstFrame).join('\n');
  }
  return { type: 'error', name, value, traceback: stack };
}

function interruptError() {
  const err = new Error('Script execution interrupted.');
  err.code = 'ERR_SCRIPT_EXECUTION_INTERRUPTED';
  return err;
}

process.on('SIGINT', () => {
  if (running) running.reject(interruptError());
});
process.on('uncaughtException', (err) => {
  if (running) running.reject(err);
});
process.on('unhandledRejection', (err) => {
  if (running) running.reject(err);
});

async function execute(req) {
  const count = req.count;
  const filename = 'cell-' + count;
  const saved = {};
  for (const [k, v] of Object.entries(req.env || {})) {
    saved[k] = Object.prototype.hasOwnProperty.call(process.env, k) ? process.env[k] : undefined;
    process.env[k] = v;
  }
  try {
    let value;
    let script;
    try {
      script = new vm.Script(req.code, { filename });
    } catch (err) {
      if (!(err instanceof SyntaxError) || !/\bawait\b/.test(req.code)) throw err;
      // Top-level await: run the code as the body of an async function.
      script = new vm.Script('(async () => {\n' + req.code + '\n})()', { filename, lineOffset: -1 });
    }
    value = script.runInContext(context, { breakOnSigint: true, displayErrors: false });
    if (value !== null && typeof value === 'object' && typeof value.then === 'function') {
      value = await new Promise((resolve, reject) => {
        running = { reject };
        Promise.resolve(value).then(resolve, reject);
      });
    }
    if (value !== undefined) {
      send({ type: 'result', is_main_result: true, text: util.inspect(value, { depth: 4 }) });
    }
  } catch (err) {
    send(errorEvent(err, count));
  } finally {
    running = null;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const queue = [];
let busy = false;

async function pump() {
  if (busy) return;
  busy = true;
  while (queue.length > 0) {
    const req = queue.shift();
    execId = req.id;
    await execute(req);
    send({ type: 'done' });
  }
  busy = false;
}

let parts = [];
const requests = fs.createReadStream(null, { fd: 3, encoding: 'utf8', highWaterMark: 1 << 16 });
requests.on('data', (chunk) => {
  let start = 0;
  let nl;
  while ((nl = chunk.indexOf('\n', start)) >= 0) {
    parts.push(chunk.slice(start, nl));
    const line = parts.join('');
    parts = [];
    start = nl + 1;
    if (line.length > 0) queue.push(JSON.parse(line));
  }
  if (start < chunk.length) parts.push(chunk.slice(start));
  pump();
});
requests.on('end', () => process.exit(0));

send({ type: 'ready' });
