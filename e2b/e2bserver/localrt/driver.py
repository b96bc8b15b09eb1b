# Python kernel driver of the tta local runtime (standard library only).
#
# Protocol. Requests arrive on fd 3, one JSON object a line:
#   {"id": N, "count": C, "code": "...", "env": {"K": "V"}}
# Events leave on fd 4, one JSON object a line, each carrying the request's id:
#   {"id": N, "type": "stdout"|"stderr", "text": ..., "timestamp": <unix ns>}
#   {"id": N, "type": "result", "is_main_result": true, "text": ..., "html": ...}
#   {"id": N, "type": "error", "name": ..., "value": ..., "traceback": ...}
#   {"id": N, "type": "done"}
# and once at start-up {"id": 0, "type": "ready"}. Writes to fd 1 and fd 2 that
# bypass sys.stdout and sys.stderr (child processes, C code) are read from those
# pipes by the Go side. SIGINT interrupts the running code with
# KeyboardInterrupt and is ignored between executions.

import ast
import base64
import builtins
import io
import json
import linecache
import os
import signal
import sys
import threading
import time
import types

_MAIN_THREAD = threading.get_ident()
_EVENTS_FD = 4
_FLUSH_DELAY = 0.05  # seconds a partial line may wait before it is sent
_FLUSH_SIZE = 1 << 16  # bytes of pending output that force a send

_lock = threading.Lock()  # guards the event pipe and the pending output
_cond = threading.Condition(_lock)
_pending_name = None  # stream of the pending output
_pending = []  # pending output chunks
_pending_size = 0
_pending_since = 0.0

_exec_id = 0  # id of the running request
_interruptible = False  # SIGINT raises KeyboardInterrupt when true
_critical = 0  # depth of sections SIGINT must not break (main thread)
_interrupt_pending = False


def _on_sigint(signum, frame):
    global _interrupt_pending
    if not _interruptible:
        return
    if _critical:
        _interrupt_pending = True
        return
    raise KeyboardInterrupt


class _Critical:
    """Defers SIGINT on the main thread until the section ends."""

    __slots__ = ("main",)

    def __enter__(self):
        global _critical
        self.main = threading.get_ident() == _MAIN_THREAD
        if self.main:
            _critical += 1

    def __exit__(self, *exc):
        global _critical, _interrupt_pending
        if not self.main:
            return False
        _critical -= 1
        if _critical == 0 and _interrupt_pending:
            _interrupt_pending = False
            if _interruptible and exc[0] is None:
                raise KeyboardInterrupt
        return False


def _write_all(data):
    view = memoryview(data)
    while view:
        n = os.write(_EVENTS_FD, view)
        view = view[n:]


def _send_locked(event):
    event["id"] = _exec_id
    line = json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"
    _write_all(line.encode("utf-8", "replace"))


def _flush_locked():
    global _pending_name, _pending, _pending_size
    if not _pending:
        return
    text = "".join(_pending)
    name = _pending_name
    _pending_name, _pending, _pending_size = None, [], 0
    _send_locked({"type": name, "text": text, "timestamp": time.time_ns()})


def _send(event):
    """Sends a non-output event after any pending output."""
    with _Critical():
        with _lock:
            _flush_locked()
            _send_locked(event)


def _flush_output():
    with _Critical():
        with _lock:
            _flush_locked()


def _output(name, text):
    global _pending_name, _pending_size, _pending_since
    with _Critical():
        with _lock:
            if _pending_name is not None and _pending_name != name:
                _flush_locked()
            if not _pending:
                _pending_since = time.monotonic()
                _cond.notify()
            _pending_name = name
            _pending.append(text)
            _pending_size += len(text)
            if "\n" in text or _pending_size >= _FLUSH_SIZE:
                _flush_locked()


def _flusher():
    with _cond:
        while True:
            while not _pending:
                _cond.wait()
            wait = _pending_since + _FLUSH_DELAY - time.monotonic()
            if wait > 0:
                _cond.wait(wait)
                continue
            _flush_locked()


class _BinaryOut(io.RawIOBase):
    """sys.stdout.buffer: bytes written are decoded as UTF-8."""

    def __init__(self, text):
        self._text = text

    def writable(self):
        return True

    def write(self, b):
        data = bytes(b)
        self._text.write(data.decode("utf-8", "replace"))
        return len(data)

    def fileno(self):
        return self._text.fileno()


class _Out(io.TextIOBase):
    """Replaces sys.stdout and sys.stderr: text becomes stream events."""

    def __init__(self, name, fd):
        self._name = name
        self._fd = fd
        self._buffer = _BinaryOut(self)

    @property
    def name(self):
        return "<" + self._name + ">"

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "strict"

    @property
    def buffer(self):
        return self._buffer

    @property
    def line_buffering(self):
        return True

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        return self._fd

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not " + type(s).__name__)
        if s:
            _output(self._name, s)
        return len(s)

    def flush(self):
        _flush_output()


# Rich representations, as IPython's display formatters look them up.
_RICH = (
    ("_repr_html_", "html"),
    ("_repr_markdown_", "markdown"),
    ("_repr_svg_", "svg"),
    ("_repr_png_", "png"),
    ("_repr_jpeg_", "jpeg"),
    ("_repr_pdf_", "pdf"),
    ("_repr_latex_", "latex"),
    ("_repr_json_", "json"),
    ("_repr_javascript_", "javascript"),
)
_MIME = {
    "text/plain": "text",
    "text/html": "html",
    "text/markdown": "markdown",
    "image/svg+xml": "svg",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "application/pdf": "pdf",
    "text/latex": "latex",
    "application/json": "json",
    "application/javascript": "javascript",
}
_BINARY = ("png", "jpeg", "pdf")


def _rich_value(field, value):
    if isinstance(value, tuple) and len(value) == 2:
        value = value[0]  # (data, metadata)
    if value is None:
        return None
    if field in _BINARY:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return base64.b64encode(bytes(value)).decode("ascii")
        return str(value)
    if field == "json":
        # Any JSON value, as E2B passes application/json on; one that cannot
        # be written as strict JSON is dropped rather than break the event.
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            return None
        return value
    return str(value)


def _is_figure(obj):
    t = type(obj)
    return t.__module__.startswith("matplotlib.") and t.__name__ == "Figure"


def _figure_png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _result(obj, main):
    event = {"type": "result", "text": repr(obj)}
    if main:
        event["is_main_result"] = True
    if isinstance(obj, type):
        return event
    bundle = getattr(obj, "_repr_mimebundle_", None)
    if callable(bundle):
        try:
            data = bundle(include=None, exclude=None)
            if isinstance(data, tuple):
                data = data[0]
            for mime, value in (data or {}).items():
                field = _MIME.get(mime)
                if field:
                    value = _rich_value(field, value)
                    if value is not None:
                        event[field] = value
                else:
                    # Other types go under extra, by MIME type, as E2B's
                    # interpreter sends them.
                    value = _rich_value("json", value)
                    if value is not None:
                        event.setdefault("extra", {})[mime] = value
        except Exception:
            pass
    for method, field in _RICH:
        if field in event:
            continue
        fn = getattr(obj, method, None)
        if not callable(fn):
            continue
        try:
            value = _rich_value(field, fn())
        except Exception:
            continue
        if value is not None:
            event[field] = value
    if "png" not in event and _is_figure(obj):
        try:
            event["png"] = _figure_png(obj)
        except Exception:
            pass
    text = event.get("text")
    if text and text.startswith("'") and text.endswith("'"):
        event["text"] = text[1:-1]  # as E2B's interpreter shows a str
    return event


def display(*objs):
    """Shows objects as results of the running execution, as IPython's does."""
    for obj in objs:
        _send(_result(obj, False))


def _show_figures(shown):
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    for num in plt.get_fignums():
        fig = plt.figure(num)
        if id(fig) in shown:
            continue
        try:
            _send({"type": "result", "text": repr(fig), "png": _figure_png(fig)})
        except Exception:
            pass
    plt.close("all")


_RULE = "-" * 75


def _cell_number(filename):
    if filename.startswith("<cell-") and filename.endswith(">"):
        return filename[6:-1]
    return None


def _frame_lines(filename, lineno, name):
    cell = _cell_number(filename)
    if cell is not None:
        head = "Cell In[%s], line %d" % (cell, lineno)
    else:
        head = "File %s:%d, in %s" % (filename, lineno, name)
    lines = [head]
    first = max(1, lineno - 2)
    width = len(str(lineno))
    for n in range(first, lineno + 1):
        src = linecache.getline(filename, n).rstrip("\n")
        if not src and n != lineno:
            continue
        mark = "----> " if n == lineno else "      "
        lines.append("%s%s %s" % (mark, str(n).rjust(width), src))
    return lines


def _exception_only(e):
    import traceback

    lines = traceback.format_exception_only(type(e), e)
    out = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith('File "<cell-') and '", line ' in stripped:
            cell = stripped[len('File "<cell-'):stripped.index('>"')]
            rest = stripped[stripped.index('", line ') + len('", line '):]
            line = "  Cell In[%s], line %s\n" % (cell, rest)
        out.append(line.rstrip("\n"))
    return out


def _format_one(e, skip):
    name = type(e).__name__
    tb = e.__traceback__
    while tb is not None and skip and tb.tb_frame.f_globals is globals():
        tb = tb.tb_next
    if tb is None and isinstance(e, SyntaxError):
        return _exception_only(e)
    lines = [_RULE, name.ljust(41) + " Traceback (most recent call last)"]
    while tb is not None:
        code = tb.tb_frame.f_code
        lines.extend(_frame_lines(code.co_filename, tb.tb_lineno, code.co_name))
        lines.append("")
        tb = tb.tb_next
    if lines[-1] != "":
        lines.append("")
    lines.extend(_exception_only(e))
    return lines


def _format_traceback(e):
    chain = []
    seen = set()
    cur = e
    while cur is not None and id(cur) not in seen and len(chain) < 10:
        seen.add(id(cur))
        chain.append(cur)
        if cur.__cause__ is not None:
            cur = cur.__cause__
        elif cur.__context__ is not None and not cur.__suppress_context__:
            cur = cur.__context__
        else:
            cur = None
    lines = []
    prev = None
    for exc in reversed(chain):
        if prev is not None:
            if exc.__cause__ is prev:
                sep = "The above exception was the direct cause of the following exception:"
            else:
                sep = "During handling of the above exception, another exception occurred:"
            lines.extend(["", sep, ""])
        lines.extend(_format_one(exc, True))
        prev = exc
    return "\n".join(lines)


def _error(e):
    value = str(e)
    if isinstance(e, SyntaxError) and _cell_number(e.filename or "") is not None:
        value = "%s (Cell In[%s], line %s)" % (e.msg, _cell_number(e.filename), e.lineno)
    return {
        "type": "error",
        "name": type(e).__name__,
        "value": value,
        "traceback": _format_traceback(e),
    }


_loop = None  # event loop for cells with top-level await


def _run_code(code_obj, ns):
    global _loop
    value = eval(code_obj, ns)
    if code_obj.co_flags & 0x80:  # CO_COROUTINE: the cell awaits at top level
        import asyncio

        if _loop is None:
            _loop = asyncio.new_event_loop()
        value = _loop.run_until_complete(value)
    return value


def _execute(code, count, ns):
    global _interruptible, _interrupt_pending
    filename = "<cell-%d>" % count
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    flags = getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)
    shown = set()
    try:
        _interruptible = True
        tree = compile(code, filename, "exec", ast.PyCF_ONLY_AST | flags)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            if not code.rstrip().endswith(";"):
                last = ast.Expression(tree.body.pop().value)
        _run_code(compile(tree, filename, "exec", flags), ns)
        if last is not None:
            value = _run_code(compile(last, filename, "eval", flags), ns)
            if value is not None:
                ns["_"] = value
                event = _result(value, True)
                if _is_figure(value):
                    shown.add(id(value))
                _send(event)
        _show_figures(shown)
    except BaseException as e:  # the user's code raised: report it
        _interruptible = False
        _send(_error(e))
    finally:
        _interruptible = False
        _interrupt_pending = False


def _serve():
    global _exec_id
    signal.signal(signal.SIGINT, _on_sigint)
    os.set_inheritable(3, False)
    os.set_inheritable(_EVENTS_FD, False)
    requests = os.fdopen(3, "rb", buffering=1 << 16)

    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    main.__dict__["display"] = display
    sys.modules["__main__"] = main
    ns = main.__dict__

    sys.argv = [""]
    sys.stdout = _Out("stdout", 1)
    sys.stderr = _Out("stderr", 2)
    sys.stdin = open(os.devnull, "r")
    threading.Thread(target=_flusher, name="tta-output", daemon=True).start()

    _send({"type": "ready"})
    while True:
        line = requests.readline()
        if not line:
            return
        req = json.loads(line)
        _exec_id = req["id"]
        saved = {}
        for k, v in (req.get("env") or {}).items():
            saved[k] = os.environ.get(k)
            os.environ[k] = v
        try:
            _execute(req["code"], req["count"], ns)
        except BaseException as e:  # SIGINT landed while reporting
            _send(_error(e))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            _send({"type": "done"})


# The fork server (zygote.py) defines _TTA_ZYGOTE and serves kernels itself.
if not globals().get("_TTA_ZYGOTE"):
    _serve()
