#!/usr/bin/env python3
"""End-to-end test + benchmark of runner.py inside the real sandbox image.

    python3 libs/sandbox/image/test_runner.py --image cibox-sandbox:<hash> [--bench]

Runs the container exactly as the product will (docker run -i --init, read-only,
no network, cap-drop ALL, ...) and drives the JSON-lines protocol over stdin/stdout.
Prints "N passed, N failed" and exits non-zero on failure.
"""
import argparse
import base64
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
import uuid


def docker_cmd(image):
    return [
        "docker", "run", "-i", "--rm", "--init", "--network", "none", "--read-only",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--user", "1000:1000",
        "--tmpfs", "/tmp:rw,size=64m",
        "--tmpfs", "/mnt/data:rw,size=256m,uid=1000,gid=1000,mode=0755",
        "--memory", "1g", "--pids-limit", "256", image,
    ]


class Kernel:
    def __init__(self, cmd):
        self.t_start = time.monotonic()
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.q = queue.Queue()
        self.stderr = []
        self.bad_lines = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        self.ready = self.expect("ready", timeout=120)
        self.t_ready = time.monotonic()

    def _read(self):
        for line in self.p.stdout:
            try:
                self.q.put((time.monotonic(), json.loads(line)))
            except ValueError:
                self.bad_lines.append(line)
        self.q.put((time.monotonic(), None))

    def _read_err(self):
        for line in self.p.stderr:
            self.stderr.append(line.decode(errors="replace"))

    def send(self, obj):
        self.p.stdin.write((json.dumps(obj) + "\n").encode())
        self.p.stdin.flush()

    def next(self, timeout=60):
        t, ev = self.q.get(timeout=timeout)
        if ev is None:
            raise EOFError("runner exited; stderr: " + "".join(self.stderr)[-2000:])
        return t, ev

    def expect(self, typ, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            _, ev = self.next(timeout=max(0.01, deadline - time.monotonic()))
            if ev.get("type") == typ:
                return ev

    def exec(self, code, timeout=60, **extra):
        cid = uuid.uuid4().hex[:8]
        t0 = time.monotonic()
        self.send({"type": "exec", "id": cid, "code": code, **extra})
        events = []
        while True:
            t, ev = self.next(timeout=timeout)
            ev["_t"] = t - t0
            if ev.get("id") not in (cid, None) and ev.get("type") in ("stdout", "stderr", "result", "image", "done"):
                raise AssertionError("event for foreign id: %r" % ev)
            events.append(ev)
            if ev["type"] == "done" and ev["id"] == cid:
                return Cell(events, time.monotonic() - t0)

    def close(self):
        try:
            self.p.stdin.close()
        except Exception:
            pass
        try:
            return self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return None


class Cell:
    def __init__(self, events, elapsed):
        self.events = events
        self.elapsed = elapsed
        self.done = events[-1]

    def text(self, typ):
        return "".join(e["text"] for e in self.events if e["type"] == typ)

    @property
    def stdout(self):
        return self.text("stdout")

    @property
    def stderr(self):
        return self.text("stderr")

    @property
    def results(self):
        return [e["text"] for e in self.events if e["type"] == "result"]

    @property
    def images(self):
        return [e for e in self.events if e["type"] == "image"]

    def __repr__(self):
        return "Cell(%s)" % json.dumps(self.events)[:1500]


PASSED, FAILED = [], []


def check(name, cond, detail=""):
    (PASSED if cond else FAILED).append(name)
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else "  -- " + str(detail)[:1500]), flush=True)


def functional(cmd):
    k = Kernel(cmd)
    check("ready", k.ready.get("type") == "ready", k.ready)
    k.send({"type": "ping"})
    check("ping/pong", k.expect("pong", 10)["type"] == "pong")

    c = k.exec("x = 1")
    check("assign ok, no result", c.done["status"] == "ok" and c.results == [], c)
    c = k.exec("x + 1")
    check("state persists (x+1 -> '2')", c.results == ["2"], c)
    c = k.exec("None")
    check("None -> no result", c.results == [], c)
    c = k.exec("x + 1;")
    check("trailing ; suppresses result", c.results == [], c)

    c = k.exec("import time\nprint('a', flush=True)\ntime.sleep(0.6)\nprint('b')")
    first = next((e for e in c.events if e["type"] == "stdout"), None)
    check("stdout streams before done", first is not None and first["_t"] < c.done["_t"] - 0.4 and c.stdout == "a\nb\n", c)

    c = k.exec("def f():\n    return 1/0\nf()")
    err = c.done["error"] or {}
    tb = "\n".join(err.get("traceback", []))
    check("exception -> error object", c.done["status"] == "error" and err.get("name") == "ZeroDivisionError"
          and err.get("value") == "division by zero" and "ZeroDivisionError" in tb and "\x1b" not in tb
          and "return 1/0" in tb, c)
    check("traceback not duplicated on stdout", "ZeroDivisionError" not in c.stdout + c.stderr, c)
    c = k.exec("def (:")
    check("SyntaxError", (c.done["error"] or {}).get("name") == "SyntaxError", c)
    c = k.exec("x")
    check("state survives errors", c.results == ["1"], c)

    c = k.exec("import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('t')")
    imgs = c.images
    png = base64.b64decode(imgs[0]["data"]) if imgs else b""
    check("open figure -> one PNG image", len(imgs) == 1 and imgs[0]["format"] == "png" and png.startswith(b"\x89PNG"), c)
    c = k.exec("import matplotlib.pyplot as plt\nprint('before')\nplt.plot([1,2]); plt.show()\nprint('after')\n"
               "plt.figure(); plt.bar([1,2],[3,4]); plt.show()")
    order = [e["type"] for e in c.events if e["type"] in ("stdout", "image")]
    check("plt.show() emits + closes, ordered with stdout", len(c.images) == 2 and order[0] == "stdout"
          and order[1] == "image" and c.stdout == "before\nafter\n", c)
    c = k.exec("import matplotlib.pyplot as plt\nfig, ax = plt.subplots(); ax.plot([1,2])\nfig")
    check("figure as last expression -> single image", len(c.images) == 1 and c.results == [], c)
    c = k.exec("from PIL import Image\nImage.new('RGB', (8, 8), 'red')")
    check("PIL image repr -> image", len(c.images) == 1, c)
    c = k.exec("import matplotlib.pyplot as plt\nplt.get_fignums()")
    check("figures closed after cell", c.results == ["[]"], c)

    c = k.exec("import pandas as pd\npd.DataFrame({'a':[1,2]}).to_csv('/mnt/data/out.csv', index=False)")
    check("created file reported", c.done["files"] == [{"path": "/mnt/data/out.csv", "size": 6}], c)
    c = k.exec("print(open('out.csv').read())")
    check("cwd is /mnt/data, unchanged files not reported", c.stdout == "a\n1\n2\n\n" and c.done["files"] == [], c)
    c = k.exec("import os\nos.makedirs('sub/dir', exist_ok=True)\nopen('sub/dir/y.txt','w').write('hello')\n"
               "os.symlink('/etc/passwd', 'link')\nopen('out.csv','a').write('3\\n')")
    paths = [f["path"] for f in c.done["files"]]
    check("nested + modified files, symlink skipped",
          paths == ["/mnt/data/out.csv", "/mnt/data/sub/dir/y.txt"], c)
    c = k.exec("import os; os.remove('out.csv')")
    check("deleted file reported", c.done["deleted"] == ["/mnt/data/out.csv"], c)

    k.send({"type": "put_file", "path": "/mnt/data/in/up.txt", "data": base64.b64encode(b"uploaded").decode()})
    ev = k.expect("put_file_done", 10)
    c = k.exec("open('in/up.txt').read()")
    check("put_file", "error" not in ev and c.results == ["'uploaded'"], (ev, c))
    k.send({"type": "put_file", "path": "/mnt/data/../../etc/x", "data": ""})
    ev = k.expect("put_file_done", 10)
    check("put_file outside refused", "error" in ev, ev)
    k.send({"type": "put_file", "path": "/mnt/data/link", "data": ""})
    ev = k.expect("put_file_done", 10)
    check("put_file onto symlink refused (O_NOFOLLOW)", "error" in ev, ev)
    k.send({"type": "delete_file", "path": "/mnt/data/in/up.txt"})
    ev = k.expect("delete_file_done", 10)
    check("delete_file", "error" not in ev, ev)

    return k


def interrupt_tests(k):
    cid = "intr1"
    t0 = time.monotonic()
    k.send({"type": "exec", "id": cid, "code": "y = 5\nimport time\nprint('sleeping', flush=True)\ntime.sleep(30)\ny = 6"})
    # wait for the cell to start
    while True:
        _, ev = k.next(30)
        if ev.get("type") == "stdout" and ev.get("id") == cid:
            break
    # A second exec while this cell runs (the host was fooled by a forged `done`) is refused at once.
    k.send({"type": "exec", "id": "intr1b", "code": "y = 99"})
    busy = k.expect("busy", 5)
    check("exec while a cell runs -> busy, not queued", busy.get("id") == "intr1b", busy)
    k.send({"type": "interrupt"})
    done = k.expect("done", 10)
    el = time.monotonic() - t0
    check("interrupt time.sleep -> KeyboardInterrupt", done["status"] == "error"
          and (done["error"] or {}).get("name") == "KeyboardInterrupt" and el < 5, (el, done))
    c = k.exec("y")
    check("variables survive interrupt", c.results == ["5"], c)

    k.send({"type": "exec", "id": "intr2", "code": "n = 0\nwhile True:\n    n += 1"})
    time.sleep(1.0)
    k.send({"type": "interrupt"})
    done = k.expect("done", 10)
    c = k.exec("n > 0")
    check("interrupt pure-python loop", (done["error"] or {}).get("name") == "KeyboardInterrupt" and c.results == ["True"],
          (done, c))
    k.send({"type": "interrupt"})  # no cell running: ignored
    c = k.exec("1+1")
    check("stray interrupt ignored", c.results == ["2"] and c.done["status"] == "ok", c)


def misc_tests(k):
    c = k.exec("import os\nos.write(1, b'raw')\nos.write(2, b'rawerr')")
    check("os.write(1/2) -> stdout/stderr", c.stdout == "raw" and c.stderr == "rawerr" and c.results == ["6"], c)
    c = k.exec("import subprocess\nsubprocess.run(['echo', 'from-child'])\n!echo bang")
    check("subprocess / !cmd output captured", "from-child\n" in c.stdout and "bang" in c.stdout, c)
    c = k.exec("import sys\nprint('to-stderr', file=sys.stderr)")
    check("stderr event", c.stderr == "to-stderr\n", c)
    c = k.exec("for i in range(5 * 1024 * 1024 // 8):\n    print('x' * 7)", timeout=120)
    check("5 MB of prints truncated at 1 MiB", c.done["truncated"] == {"stdout": True, "stderr": False}
          and c.stdout.startswith("xxxxxxx\n") and len(c.stdout.encode()) < 1048576 + 200
          and c.stdout.endswith("[output truncated: exceeded 1048576 bytes]\n"), (len(c.stdout), c.done))
    n_events = sum(1 for e in c.events if e["type"] == "stdout")
    check("output coalesced into few events (%d)" % n_events, n_events < 200, n_events)
    c = k.exec("print('a' * 100)", max_output_bytes=10)
    check("max_output_bytes honoured", c.done["truncated"]["stdout"] and c.stdout.startswith("a" * 10 + "\n[output truncated"), c)
    c = k.exec("print('small')")
    check("caps reset per cell", c.stdout == "small\n" and not c.done["truncated"]["stdout"], c)
    c = k.exec("import sys; sys.exit(3)")
    check("sys.exit(3) -> error SystemExit", (c.done["error"] or {}).get("name") == "SystemExit", c)
    c = k.exec("exit()")
    c2 = k.exec("quit\n'alive'")
    check("runner survives sys.exit/exit()/quit", c2.results == ["'alive'"], (c, c2))
    c = k.exec("input('prompt?')", timeout=10)
    check("input() does not steal protocol lines", c.done["status"] == "error", c)
    c = k.exec("print('é ü 中文 😀')")
    check("unicode", c.stdout == "é ü 中文 😀\n", c)
    c = k.exec("import threading, time\nthreading.Thread(target=lambda: (time.sleep(0.2), print('late'))).start()")
    c2 = k.exec("import time; time.sleep(0.5); 'ok'")
    check("background thread output not lost", "late" in (c.stdout + c2.stdout), (c, c2))
    k.exec("import sys; sys.stdout.close(); sys.stderr = None")
    c = k.exec("import sys; print('back'); print('err', file=sys.stderr)")
    check("closed sys.stdout / unset sys.stderr restored next cell", c.stdout == "back\n" and c.stderr == "err\n", c)
    k.exec("import os; os.close(1); os.dup2(os.open('/dev/null', os.O_WRONLY), 2)")
    c = k.exec("import os; print('fd1'); os.write(2, b'fd2')")
    check("closed or re-pointed fd 1/2 restored next cell", c.stdout == "fd1\n" and c.stderr == "fd2", c)
    c = k.exec("x = '\ud800'")  # JSON carries the lone surrogate; Python cannot compile it
    check("lone surrogate in code -> clean SyntaxError", (c.done["error"] or {}).get("name") == "SyntaxError" and c.stderr == "", c)
    check("no corrupt protocol lines", not k.bad_lines, k.bad_lines[:3])
    rc = k.close()
    check("stdin EOF -> exit 0", rc == 0, rc)


def bench(cmd, n=200):
    res = {}
    starts = []
    for _ in range(3):
        t0 = time.monotonic()
        k = Kernel(cmd)
        starts.append(k.t_ready - t0)
        if len(starts) < 3:
            k.close()
    res["start_to_ready_s"] = [round(s, 2) for s in starts]
    t = time.monotonic()
    c = k.exec("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])")
    res["first_figure_s"] = round(time.monotonic() - t, 3)
    c = k.exec("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])")
    res["second_figure_s"] = round(c.elapsed, 3)
    lat = []
    for _ in range(n):
        c = k.exec("print(1)")
        assert c.stdout == "1\n", c
        lat.append(c.elapsed * 1000)
    lat.sort()
    res["print1_rtt_ms"] = {
        "p50": round(statistics.median(lat), 2),
        "p99": round(lat[int(len(lat) * 0.99) - 1], 2),
        "max": round(lat[-1], 2),
    }
    k.close()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", required=True)
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--extra-docker-args", default="", help="e.g. '-v /abs/runner.py:/opt/cibox/runner.py:ro'")
    a = ap.parse_args()
    cmd = docker_cmd(a.image)
    if a.extra_docker_args:
        cmd[3:3] = a.extra_docker_args.split()
    k = functional(cmd)
    interrupt_tests(k)
    misc_tests(k)
    if a.bench:
        print("BENCH " + json.dumps(bench(cmd)), flush=True)
    print("%d passed, %d failed" % (len(PASSED), len(FAILED)))
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
