#!/usr/bin/env python3
"""cibox sandbox kernel.

A long-lived process that runs code cells in one persistent, in-process IPython
InteractiveShell and talks newline-delimited JSON over its ORIGINAL stdin/stdout.

fd 1 / fd 2 are redirected into pipes at start-up, so anything user code (or C
extensions, or subprocesses) writes there is captured and forwarded as
stdout/stderr events; the protocol channel is a private dup of the original fd 1.
fd 0 is replaced by /dev/null so `input()` can never eat protocol lines.

Requests (one JSON object per line on stdin):
  {"type":"exec","id":str,"code":str[,"max_output_bytes":int]}
  {"type":"interrupt"}
  {"type":"ping"}
  {"type":"put_file","path":str,"data":base64[,"append":bool]}
  {"type":"get_file","path":str}
  {"type":"delete_file","path":str}

Events (one JSON object per line on stdout):
  {"type":"ready","python":str,"ipython":str}
  {"type":"stdout"|"stderr","id":str|null,"text":str}
  {"type":"result","id":str,"text":str}
  {"type":"image","id":str,"format":"png","data":base64}
  {"type":"done","id":str,"status":"ok"|"error","error":null|{"name","value","traceback"},
   "files":[{"path","size"}],"deleted":[str],"truncated":{"stdout":bool,"stderr":bool},
   "execution_count":int}
  {"type":"pong"}
  {"type":"put_file_done","path":str[,"error":str]}
  {"type":"delete_file_done","path":str[,"error":str]}
  {"type":"file_chunk","path":str,"data":base64,"eof":bool} (one or more per get_file)
  {"type":"file_chunk","path":str,"error":str}
  {"type":"busy","id":str}                (an exec arrived while a cell was still running)
  {"type":"error","message":str}          (malformed / unknown request)
"""

import base64
import codecs
import io
import json
import os
import queue
import re
import secrets
import select
import shutil
import signal
import stat
import sys
import threading
import time
import traceback
import warnings

DATA_DIR = os.path.realpath(os.environ.get("CIBOX_DATA_DIR", "/mnt/data"))
DEFAULT_MAX_OUTPUT = 1024 * 1024
FLUSH_BYTES = 64 * 1024
FLUSH_SECONDS = 0.015
SYNC_TIMEOUT = 10.0
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")

# --------------------------------------------------------------------------
# 1. Protocol channel + fd redirection (before anything else can print).
# --------------------------------------------------------------------------
_proto_fd = os.dup(1)
_stdin_fd = os.dup(0)
os.set_inheritable(_proto_fd, False)
os.set_inheritable(_stdin_fd, False)

_devnull = os.open(os.devnull, os.O_RDONLY)
os.dup2(_devnull, 0)
os.close(_devnull)

_out_r, _out_w = os.pipe()
_err_r, _err_w = os.pipe()
os.dup2(_out_w, 1)
os.dup2(_err_w, 2)
# Private write ends used only for sync sentinels: they reach the pipe even if
# user code closes or re-points fd 1/2.
_out_sync_w = os.dup(_out_w)
_err_sync_w = os.dup(_err_w)
for _fd in (_out_r, _err_r, _out_sync_w, _err_sync_w):
    os.set_inheritable(_fd, False)
os.close(_out_w)
os.close(_err_w)


def _make_text_stream(fd):
    raw = io.FileIO(fd, "w", closefd=False)
    buf = io.BufferedWriter(raw, buffer_size=8192)
    return io.TextIOWrapper(buf, encoding="utf-8", errors="backslashreplace", line_buffering=True)


sys.stdout = sys.__stdout__ = _make_text_stream(1)
sys.stderr = sys.__stderr__ = _make_text_stream(2)
def _pipe_id(fd):
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino)


_PIPE_IDS = {1: _pipe_id(_out_sync_w), 2: _pipe_id(_err_sync_w)}


def _restore_std_streams():
    """Each cell starts writing to the execution's stdout/stderr, whatever the last cell did to
    them (closed sys.stdout, rebound it, or closed or re-pointed fd 1/2)."""
    for fd, sync_w in ((1, _out_sync_w), (2, _err_sync_w)):
        try:
            same = _pipe_id(fd) == _PIPE_IDS[fd]
        except OSError:
            same = False
        if not same:
            os.dup2(sync_w, fd)
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, "__" + name + "__")
        if stream is None or stream.closed:
            stream = _make_text_stream(fd)
            setattr(sys, "__" + name + "__", stream)
        setattr(sys, name, stream)
sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")

# All protocol writes go through one writer thread fed by a C-level SimpleQueue:
# a put() is atomic even if a KeyboardInterrupt lands in the main thread, so a
# half-written line can never corrupt the channel.
_out_q = queue.SimpleQueue()
_proto_lock = threading.Lock()


def _writer_loop():
    while True:
        data = _out_q.get()
        if data is None:
            return
        view = memoryview(data)
        with _proto_lock:
            while view:
                try:
                    n = os.write(_proto_fd, view)
                except InterruptedError:
                    continue
                except OSError:
                    os._exit(0)  # host went away
                view = view[n:]


_writer = threading.Thread(target=_writer_loop, name="cibox-proto-writer", daemon=True)
_writer.start()


def send(obj):
    _out_q.put((json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8", "backslashreplace"))


# --------------------------------------------------------------------------
# 2. Cell state + pipe readers.
# --------------------------------------------------------------------------
class CellState:
    def __init__(self):
        self.lock = threading.Lock()
        self.id = None
        self.cap = DEFAULT_MAX_OUTPUT
        self.count = {"stdout": 0, "stderr": 0}
        self.truncated = {"stdout": False, "stderr": False}
        self.in_cell = False

    def start(self, cell_id, cap):
        with self.lock:
            self.id = cell_id
            self.cap = cap
            self.count = {"stdout": 0, "stderr": 0}
            self.truncated = {"stdout": False, "stderr": False}


STATE = CellState()


class PipeReader(threading.Thread):
    def __init__(self, name, rfd, sync_wfd):
        super().__init__(name="cibox-" + name, daemon=True)
        self.stream = name
        self.rfd = rfd
        self.sync_wfd = sync_wfd
        self.cond = threading.Condition()
        self.sentinel = None  # bytes we are waiting for
        self.seen = None  # last sentinel seen
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    # -- emission with per-cell caps
    def _emit(self, data):
        if not data:
            return
        with STATE.lock:
            cell_id = STATE.id
            if STATE.truncated[self.stream]:
                return
            allowed = STATE.cap - STATE.count[self.stream]
            notice = None
            if len(data) > allowed:
                data = data[: max(allowed, 0)]
                STATE.truncated[self.stream] = True
                notice = "\n[output truncated: exceeded %d bytes]\n" % STATE.cap
            STATE.count[self.stream] += len(data)
        text = self.decoder.decode(data, final=notice is not None)
        if notice is not None:
            text += notice
            self.decoder.reset()
        if text:
            send({"type": self.stream, "id": cell_id, "text": text})

    def sync(self, token):
        """Write a sentinel into the pipe and wait until this reader has seen it."""
        s = b"\x00\x1bCIBOX-SYNC-" + token + b"\x00"
        with self.cond:
            self.sentinel = s
        try:
            view = memoryview(s)
            while view:
                view = view[os.write(self.sync_wfd, view):]
        except OSError:
            return False
        with self.cond:
            ok = self.cond.wait_for(lambda: self.seen == s, timeout=SYNC_TIMEOUT)
            self.sentinel = None
            return ok

    def run(self):
        buf = b""
        deadline = None
        while True:
            timeout = None if not buf else max(0.0, deadline - time.monotonic())
            try:
                ready, _, _ = select.select([self.rfd], [], [], timeout)
            except InterruptedError:
                continue
            if ready:
                try:
                    data = os.read(self.rfd, 65536)
                except InterruptedError:
                    continue
                if not data:
                    self._emit(buf)
                    return
                if not buf:
                    deadline = time.monotonic() + FLUSH_SECONDS
                buf += data
            with self.cond:
                s = self.sentinel
            if s is not None:
                i = buf.find(s)
                if i >= 0:
                    self._emit(buf[:i])
                    buf = buf[i + len(s):]
                    deadline = time.monotonic() + FLUSH_SECONDS
                    with self.cond:
                        self.seen = s
                        self.cond.notify_all()
                    continue
            if buf and (len(buf) >= FLUSH_BYTES or time.monotonic() >= deadline):
                keep = 0
                if s is not None:
                    # hold back a possible partial sentinel at the end
                    for k in range(min(len(s) - 1, len(buf)), 0, -1):
                        if buf.endswith(s[:k]):
                            keep = k
                            break
                self._emit(buf[: len(buf) - keep])
                buf = buf[len(buf) - keep:]
                deadline = time.monotonic() + FLUSH_SECONDS


READERS = [PipeReader("stdout", _out_r, _out_sync_w), PipeReader("stderr", _err_r, _err_sync_w)]
for _r in READERS:
    _r.start()


def sync_output():
    """Flush Python-level buffers and wait until the pipes are drained into the protocol."""
    for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            s.flush()
        except Exception:
            pass
    token = secrets.token_hex(8).encode()
    for r in READERS:
        r.sync(token)


# --------------------------------------------------------------------------
# 3. Preload the data stack (matplotlib font cache comes from the image).
# --------------------------------------------------------------------------
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HOME", "/tmp")
_mpl_dir = os.environ.setdefault("MPLCONFIGDIR", os.path.join(os.environ["HOME"], ".config", "matplotlib"))
_mpl_cache = os.environ.get("CIBOX_MPL_CACHE", "/opt/cibox/mplconfig")
try:
    os.makedirs(_mpl_dir, exist_ok=True)
    if os.path.isdir(_mpl_cache):
        for _name in os.listdir(_mpl_cache):
            _src = os.path.join(_mpl_cache, _name)
            _dst = os.path.join(_mpl_dir, _name)
            if os.path.isfile(_src) and not os.path.exists(_dst):
                shutil.copyfile(_src, _dst)
except OSError:
    pass

try:
    import numpy  # noqa: F401
    import pandas  # noqa: F401
except Exception:
    traceback.print_exc()

_plt = None
_Gcf = None
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as _plt
    import matplotlib.figure as _mfigure
    from matplotlib._pylab_helpers import Gcf as _Gcf
except Exception:
    traceback.print_exc()

from IPython.core.displayhook import DisplayHook  # noqa: E402
from IPython.core.displaypub import DisplayPublisher  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from traitlets.config import Config  # noqa: E402
import IPython  # noqa: E402

# --------------------------------------------------------------------------
# 4. Images / display plumbing.
# --------------------------------------------------------------------------
_shown_figs = set()  # ids of figures already emitted in the current cell


def _emit_png(data):
    if isinstance(data, str):
        b64 = data
    else:
        b64 = base64.b64encode(bytes(data)).decode("ascii")
    sync_output()  # keep prints that came before the image before it
    send({"type": "image", "id": STATE.id, "format": "png", "data": b64})


def _figure_png(fig):
    bio = io.BytesIO()
    fig.savefig(bio, format="png", bbox_inches="tight")
    return bio.getvalue()


def _emit_figure(fig):
    try:
        data = _figure_png(fig)
    except Exception:
        traceback.print_exc()
        return
    _shown_figs.add(id(fig))
    _emit_png(data)


def _emit_open_figures(skip_shown=False):
    if _Gcf is None:
        return
    for manager in list(_Gcf.get_all_fig_managers()):
        fig = manager.canvas.figure
        if not (skip_shown and id(fig) in _shown_figs):
            _emit_figure(fig)
    try:
        _plt.close("all")
    except Exception:
        pass


if _plt is not None:

    def _show(*args, **kwargs):
        _emit_open_figures()

    _show.__doc__ = _plt.show.__doc__
    _plt.show = _show

    def _figure_show(self, warn=True):
        _emit_figure(self)

    _mfigure.Figure.show = _figure_show


class CiboxDisplayHook(DisplayHook):
    """Out[] values -> result events (image events for objects with a PNG repr)."""

    def write_output_prompt(self):
        pass

    def write_format_data(self, format_dict, md_dict=None):
        if "image/png" in format_dict:
            _emit_png(format_dict["image/png"])
            return
        text = format_dict.get("text/plain")
        if text is not None:
            sync_output()
            send({"type": "result", "id": STATE.id, "text": text})

    def finish_displayhook(self):
        pass


class CiboxDisplayPublisher(DisplayPublisher):
    """display(...) -> image event for PNG data, otherwise the text repr on stdout."""

    def publish(self, data, metadata=None, source=None, **kwargs):
        if "image/png" in data:
            _emit_png(data["image/png"])
            return
        super().publish(data, metadata=metadata, source=source, **kwargs)


_cfg = Config()
_cfg.HistoryManager.hist_file = ":memory:"
_cfg.InteractiveShell.colors = "NoColor"
_cfg.InteractiveShell.xmode = "Plain"
_cfg.InteractiveShell.autocall = 0

shell = InteractiveShell.instance(
    config=_cfg,
    displayhook_class=CiboxDisplayHook,
    display_pub_class=CiboxDisplayPublisher,
)
try:
    shell.InteractiveTB.set_mode(mode="Plain")
    shell.InteractiveTB.set_colors("NoColor")
except Exception:
    pass
try:
    shell.display_formatter.active_types = ["text/plain", "image/png"]
except Exception:
    pass

if _plt is not None:
    try:
        _png_fmt = shell.display_formatter.formatters["image/png"]

        def _fig_to_png(fig):
            _shown_figs.add(id(fig))
            return _figure_png(fig)

        _png_fmt.for_type(_mfigure.Figure, _fig_to_png)
    except Exception:
        pass

_last_tb = []


def _capture_traceback(etype, evalue, stb):
    _last_tb[:] = list(stb or [])


shell._showtraceback = _capture_traceback
warnings.filterwarnings("ignore", message="To exit: use 'exit', 'quit', or Ctrl-D.")


def _error_obj(exc, stb=None):
    if stb:
        text = "\n".join(stb)
    else:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    lines = [ANSI_RE.sub("", line) for line in text.splitlines()]
    return {"name": type(exc).__name__, "value": str(exc), "traceback": lines}


# --------------------------------------------------------------------------
# 5. /mnt/data snapshots.
# --------------------------------------------------------------------------
def snapshot(root=DATA_DIR, limit=50000):
    out = {}
    stack = [root]
    while stack and len(out) < limit:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                for e in it:
                    try:
                        st = e.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    elif e.is_file(follow_symlinks=False):
                        out[e.path] = (st.st_size, st.st_mtime_ns, st.st_ino)
        except OSError:
            continue
    return out


def _inside_data_dir(p):
    return p == DATA_DIR or p.startswith(DATA_DIR + os.sep)


def _resolve_data_path(path):
    if not isinstance(path, str) or not path or "\x00" in path:
        raise ValueError("invalid path")
    full = os.path.normpath(os.path.join(DATA_DIR, path))
    if not _inside_data_dir(full) or full == DATA_DIR:
        raise ValueError("path outside %s" % DATA_DIR)
    parent = os.path.dirname(full)
    if not _inside_data_dir(os.path.realpath(parent)):
        raise ValueError("path resolves outside %s" % DATA_DIR)
    return full, parent


def put_file(msg):
    path = msg.get("path")
    try:
        full, parent = _resolve_data_path(path)
        data = base64.b64decode(msg.get("data") or "", validate=True)
        os.makedirs(parent, exist_ok=True)
        if not _inside_data_dir(os.path.realpath(parent)):
            raise ValueError("path resolves outside %s" % DATA_DIR)
        mode = os.O_APPEND if msg.get("append") else os.O_TRUNC
        fd = os.open(full, os.O_WRONLY | os.O_CREAT | mode | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        send({"type": "put_file_done", "path": path})
    except Exception as e:
        send({"type": "put_file_done", "path": path, "error": "%s: %s" % (type(e).__name__, e)})


GET_CHUNK = 1024 * 1024


def get_file(msg):
    """Streams a regular file under /mnt/data; refuses symlinks and anything outside it."""
    path = msg.get("path")
    try:
        full, _ = _resolve_data_path(path)
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ValueError("not a regular file")
            while True:
                data = os.read(fd, GET_CHUNK)
                send({"type": "file_chunk", "path": path, "data": base64.b64encode(data).decode("ascii"), "eof": not data})
                if not data:
                    break
                # Backpressure: never hold more than a few chunks of a big file in memory.
                while _out_q.qsize() > 4:
                    time.sleep(0.001)
        finally:
            os.close(fd)
    except Exception as e:
        send({"type": "file_chunk", "path": path, "error": "%s: %s" % (type(e).__name__, e)})


def delete_file(msg):
    path = msg.get("path")
    try:
        full, _ = _resolve_data_path(path)
        os.unlink(full)  # unlink never follows a final symlink
        send({"type": "delete_file_done", "path": path})
    except Exception as e:
        send({"type": "delete_file_done", "path": path, "error": "%s: %s" % (type(e).__name__, e)})


# --------------------------------------------------------------------------
# 6. Interrupts + stdin reader thread.
# --------------------------------------------------------------------------
MAIN_IDENT = threading.main_thread().ident


def _on_sigint(signum, frame):
    if STATE.in_cell:
        raise KeyboardInterrupt
    # outside a cell: ignore (late/stray interrupt)


signal.signal(signal.SIGINT, _on_sigint)

EXEC_Q = queue.SimpleQueue()


def _stdin_loop():
    f = os.fdopen(_stdin_fd, "rb", buffering=1 << 16)
    for raw in f:
        raw = raw.strip()
        if not raw:
            continue
        try:
            msg = json.loads(raw)
            if not isinstance(msg, dict):
                raise ValueError("request must be a JSON object")
        except Exception as e:
            send({"type": "error", "message": "bad request: %s" % e})
            continue
        t = msg.get("type")
        if t == "exec":
            # The host sends a cell only after the previous one's `done`: if one is still running
            # (or queued), that `done` was forged by user code, and the host must know at once.
            with STATE.lock:
                busy = STATE.in_cell
            if busy or not EXEC_Q.empty():
                send({"type": "busy", "id": msg.get("id")})
            else:
                EXEC_Q.put(msg)
        elif t == "interrupt":
            with STATE.lock:
                if STATE.in_cell:
                    signal.pthread_kill(MAIN_IDENT, signal.SIGINT)
        elif t == "ping":
            send({"type": "pong"})
        elif t == "put_file":
            put_file(msg)
        elif t == "get_file":
            get_file(msg)
        elif t == "delete_file":
            delete_file(msg)
        else:
            send({"type": "error", "message": "unknown request type %r" % (t,)})
    EXEC_Q.put(None)


# --------------------------------------------------------------------------
# 7. Main loop.
# --------------------------------------------------------------------------
def run_cell(msg):
    cell_id = msg.get("id")
    code = msg.get("code")
    if not isinstance(code, str):
        code = ""
    try:
        cap = int(msg.get("max_output_bytes", DEFAULT_MAX_OUTPUT))
    except (TypeError, ValueError):
        cap = DEFAULT_MAX_OUTPUT
    cap = max(cap, 0)

    sync_output()  # stray output from between cells goes out under the previous id
    _restore_std_streams()
    _reap_children()
    STATE.start(cell_id, cap)
    _shown_figs.clear()
    del _last_tb[:]
    before = snapshot()
    error = None
    try:
        code.encode("utf-8")
    except UnicodeEncodeError as e:  # e.g. a lone surrogate: not source Python can compile
        error = {"name": "SyntaxError", "value": "The code is not valid UTF-8 text: %s" % e, "traceback": []}
        code = ""
    try:
        try:
            with STATE.lock:
                STATE.in_cell = True
            result = shell.run_cell(code, store_history=True)
        finally:
            with STATE.lock:
                STATE.in_cell = False
        exc = result.error_before_exec or result.error_in_exec
        if exc is not None and error is None:
            error = _error_obj(exc, _last_tb)
    except KeyboardInterrupt as e:  # landed inside IPython's own machinery
        error = _error_obj(e)
    except BaseException as e:  # should not happen; never let it kill the runner
        error = _error_obj(e)
    finally:
        with STATE.lock:
            STATE.in_cell = False
    shell.exit_now = False  # `exit`/`quit` must not end the runner

    try:
        _emit_open_figures(skip_shown=True)
    except BaseException:
        pass
    _shown_figs.clear()
    sync_output()

    _reap_children()
    after = snapshot()
    files = [{"path": p, "size": st[0]} for p, st in sorted(after.items()) if before.get(p) != st]
    deleted = sorted(p for p in before if p not in after)
    with STATE.lock:
        truncated = dict(STATE.truncated)
    send(
        {
            "type": "done",
            "id": cell_id,
            "status": "error" if error else "ok",
            "error": error,
            "files": files,
            "deleted": deleted,
            "truncated": truncated,
            "execution_count": shell.execution_count - 1,
        }
    )


def _reap_children():
    """Collects exited children the cell left unwaited, so zombies never hold the pids limit."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _shutdown(code=0):
    try:
        sync_output()
    except BaseException:
        pass
    _out_q.put(None)
    _writer.join(timeout=5)
    os._exit(code)


def main():
    try:
        os.chdir(DATA_DIR)
    except OSError:
        pass
    send(
        {
            "type": "ready",
            "python": sys.version.split()[0],
            "ipython": IPython.__version__,
        }
    )
    threading.Thread(target=_stdin_loop, name="cibox-stdin", daemon=True).start()
    while True:
        try:
            msg = EXEC_Q.get()
        except KeyboardInterrupt:
            continue
        if msg is None:
            _shutdown(0)
        try:
            run_cell(msg)
        except KeyboardInterrupt:
            continue


if __name__ == "__main__":
    main()
