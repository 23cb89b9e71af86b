import { toFile } from 'openai';
import { eventually } from '@cibox/testing';
import { client } from './support/clients';
import { execute } from './support/executions';

/**
 * A cell prelude: raw system calls through libc's syscall(), numbered for this machine's ABI, and
 * `denied(name, *args)` printing "<name> denied errno N" or what the call returned instead.
 */
const SYSCALLS = [
  'import ctypes, os, platform',
  'NR = {',
  '    "x86_64": dict(ptrace=101, process_vm_readv=310, unshare=272, clone=56, keyctl=250, bpf=321, userfaultfd=323, io_uring_setup=425, perf_event_open=298),',
  '    "aarch64": dict(ptrace=117, process_vm_readv=270, unshare=97, clone=220, keyctl=219, bpf=280, userfaultfd=282, io_uring_setup=425, perf_event_open=241),',
  '}[platform.machine()]',
  'libc = ctypes.CDLL(None, use_errno=True)',
  'libc.syscall.restype = ctypes.c_long',
  'def denied(name, *args):',
  '    ctypes.set_errno(0)',
  '    r = libc.syscall(NR[name], *[ctypes.c_long(a) for a in args])',
  '    if r == 0 and name == "clone":',
  '        os._exit(0)  # the child of a clone that should not have happened',
  '    print(f"{name} denied errno {ctypes.get_errno()}" if r == -1 else f"{name} ALLOWED, returned {r}")',
  '',
].join('\n');

/** Each hostile case is real code run in a real sandbox through the HTTP API. */
describe('sandbox hardening against hostile code', () => {
  const a = client('a');
  let cid: string;

  beforeAll(async () => {
    cid = (await a.containers.create({ name: 'hostile' })).id;
  });

  it('has no network: cannot open a socket to Redis, S3, the host or the internet', async () => {
    const r = await execute(
      cid,
      [
        'import socket, os',
        'targets = [("127.0.0.1", int(os.environ.get("P", "6379"))), ("10.0.0.1", 80), ("1.1.1.1", 443), ("172.17.0.1", 2375)]',
        'out = []',
        'for host, port in targets:',
        '    try:',
        '        s = socket.create_connection((host, port), timeout=2); out.append("OPEN")',
        '    except OSError as e:',
        '        out.append(type(e).__name__)',
        'print(out)',
        'print(sorted(os.listdir("/sys/class/net")))',
      ].join('\n'),
    );
    expect(r.status).toBe('completed');
    const [attempts, interfaces] = r.stdout.split('\n');
    // Four attempts, each ended by an OSError subclass (never "OPEN").
    expect(attempts).toMatch(/^\['\w*Error', '\w*Error', '\w*Error', '\w*Error'\]$/);
    expect(interfaces).toBe("['lo']");
  });

  it('cannot reach the api or Redis ports of this stack on loopback', async () => {
    const apiPort = new URL(process.env.CIBOX_BASE_URL!).port;
    const redisPort = new URL(process.env.CIBOX_REDIS_URL!).port;
    const r = await execute(cid, `import socket\nfor p in (${apiPort}, ${redisPort}):\n    try:\n        socket.create_connection(("127.0.0.1", p), timeout=2); print("OPEN")\n    except OSError as e:\n        print("blocked", p)`);
    expect(r.status).toBe('completed');
    expect(r.stdout).toBe(`blocked ${apiPort}\nblocked ${redisPort}\n`);
  });

  it('runs as a non-root user with no capabilities and no_new_privs', async () => {
    const r = await execute(cid, 'import os\nprint(os.getuid(), os.geteuid())\nst = open("/proc/self/status").read()\nprint([l for l in st.splitlines() if l.startswith(("CapEff", "CapBnd", "NoNewPrivs"))])');
    expect(r.status).toBe('completed');
    expect(r.stdout).toMatch(/^1000 1000\n/);
    expect(r.stdout).toContain('CapEff:\\t0000000000000000');
    expect(r.stdout).toContain('CapBnd:\\t0000000000000000');
    expect(r.stdout).toContain('NoNewPrivs:\\t1');
  });

  it('has a read-only root file system, and no Docker socket', async () => {
    const r = await execute(cid, 'import os\nfor p in ("/etc/evil", "/usr/evil", "/opt/cibox/evil"):\n    try:\n        open(p, "w"); print("WROTE", p)\n    except OSError as e:\n        print("refused", p, e.errno)\nprint(os.path.exists("/var/run/docker.sock"), os.path.exists("/run/docker.sock"))');
    expect(r.status).toBe('completed');
    // EROFS (30): refused by the read-only mount, not merely by file permissions.
    expect(r.stdout).toBe('refused /etc/evil 30\nrefused /usr/evil 30\nrefused /opt/cibox/evil 30\nFalse False\n');
  });

  it('sees none of the host environment', async () => {
    const r = await execute(cid, 'import os\nprint(sorted(os.environ))');
    expect(r.status).toBe('completed');
    expect(r.stdout).toContain("'MPLBACKEND'"); // the environment we give is there
    for (const leaked of ['API_KEYS', 'REDIS_URL', 'S3_SECRET_KEY', 'S3_ENDPOINT', 'CIBOX_KEY_A']) expect(r.stdout).not.toContain(leaked);
  });

  it('bounds a fork bomb with the pids limit, and the container keeps working', async () => {
    const r = await execute(
      cid,
      'import os, time\nkids = 0\ntry:\n    for _ in range(100000):\n        if os.fork() == 0:\n            time.sleep(5); os._exit(0)\n        kids += 1\nexcept OSError as e:\n    print("fork stopped:", type(e).__name__)\nprint("kids", kids)',
      { timeout_ms: 60_000 },
    );
    expect(r.stdout).toContain('fork stopped');
    const kids = Number(/kids (\d+)/.exec(r.stdout)![1]);
    expect(kids).toBeLessThan(300);
    expect((await execute(cid, '1+1')).results).toEqual([{ type: 'text', text: '2' }]);
    // Once the children have exited (after 5 s), the kernel reaps them between cells and processes start again.
    const later = await eventually(
      async () => {
        const e = await execute(cid, 'import subprocess\nprint(subprocess.run(["echo", "forks again"], capture_output=True, text=True).stdout)');
        return e.status === 'completed' && e.stdout.includes('forks again') && e;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(later.stdout).toBe('forks again\n\n');
  });

  it('ends a memory bomb with a clear error; the container recovers with its files', async () => {
    const c = (await a.containers.create({ name: 'membomb' })).id;
    await execute(c, 'open("/mnt/data/keep.txt","w").write("survives")\nx = 5');
    const r = await execute(c, 'hog = []\nwhile True:\n    hog.append(bytearray(50 * 1024 * 1024))', { timeout_ms: 60_000 });
    expect(r.status).toBe('failed');
    expect(r.error!.name).toBe('MemoryError');
    const after = await execute(c, 'print(open("/mnt/data/keep.txt").read())\nprint("x" in dir())');
    expect(after.status).toBe('completed');
    expect(after.stdout).toContain('survives');
  });

  it('interrupts a cell past timeout_ms (status timed_out) and keeps the variables', async () => {
    await execute(cid, 'kept = 123');
    const r = await execute(cid, 'import time\ntime.sleep(30)', { timeout_ms: 1000 });
    expect(r.status).toBe('timed_out');
    expect(r.error!.name).toBe('TimeoutError');
    expect(r.duration_ms).toBeLessThan(10_000);
    expect(r.state_lost).toBe(false);
    expect((await execute(cid, 'kept')).results).toEqual([{ type: 'text', text: '123' }]);
  });

  it('kills a cell that ignores the interrupt, recreates the sandbox with its files, and says variables were lost', async () => {
    const c = (await a.containers.create({ name: 'stubborn' })).id;
    await execute(c, 'open("/mnt/data/f.txt","w").write("still")\nv = 1');
    const r = await execute(c, 'import time\nwhile True:\n    try:\n        time.sleep(10)\n    except KeyboardInterrupt:\n        pass', { timeout_ms: 1000 });
    expect(r.status).toBe('timed_out');
    expect(r.error!.value).toMatch(/variables were lost/);
    expect(r.state_lost).toBe(true);
    const after = await execute(c, 'print(open("/mnt/data/f.txt").read())\nprint("v" in globals())');
    expect({ status: after.status, stdout: after.stdout }).toEqual({ status: 'completed', stdout: 'still\nFalse\n' });
  });

  it('caps stdout at the configured size with a truncation notice', async () => {
    const r = await execute(cid, 'import sys\nfor _ in range(6000):\n    sys.stdout.write("x" * 1000 + "\\n")');
    expect(r.truncated.stdout).toBe(true);
    expect(Buffer.byteLength(r.stdout)).toBeLessThan(1024 * 1024 + 200);
    expect(r.stdout).toContain('[output truncated');
  });

  it('output written straight to file descriptor 1 is captured as stdout, not protocol', async () => {
    const c = (await a.containers.create({ name: 'fd1' })).id;
    const r = await execute(c, 'import os\nos.write(1, b"raw fd write\\n")\nos.system("echo from a subprocess")');
    expect(r.status).toBe('completed');
    expect(r.stdout).toContain('raw fd write');
    expect(r.stdout).toContain('from a subprocess');
  });

  it('caps a huge last-expression result like stdout', async () => {
    const r = await execute(cid, '"r" * 3_000_000');
    expect(r.status).toBe('completed');
    expect(r.results).toHaveLength(1);
    const text = (r.results[0] as { text: string }).text;
    expect(Buffer.byteLength(text)).toBeLessThan(1024 * 1024 + 200);
    expect(text).toContain('[output truncated');
  });

  it('a flood written straight into the protocol channel ends that execution, not the worker', async () => {
    const c = (await a.containers.create({ name: 'protocol-flood' })).id;
    await a.containers.files.create(c, { file: await toFile(Buffer.from('survives'), 'kept.txt') });
    await execute(c, 'v = 1');
    // User code shares the runner's process: find the runner's own channel (the dup of the original
    // stdout) and write 64 MiB into it with no line break.
    const r = await execute(
      c,
      [
        'import os',
        'def target(n):',
        '    try: return os.readlink(f"/proc/self/fd/{n}")',
        '    except OSError: return ""',
        'own = {target(1), target(2)}',
        'fds = [int(n) for n in os.listdir("/proc/self/fd") if int(n) > 2 and target(n).startswith("pipe:") and target(n) not in own]',
        'chunk = b"x" * (1 << 20)',
        'for fd in fds:',
        '    try:',
        '        for _ in range(64): os.write(fd, chunk)',
        '    except OSError:',
        '        pass',
      ].join('\n'),
    );
    expect(r.status).toBe('failed');
    expect(r.error?.name).toBe('SandboxError');
    expect(r.error?.value).toMatch(/protocol message over/);
    expect(r.state_lost).toBe(true);
    // The worker lived through it and the container goes on, with its files.
    const next = await execute(c, 'print("v" in globals(), open("/mnt/data/kept.txt").read())');
    expect(next).toMatchObject({ status: 'completed', stdout: 'False survives\n' });
  });

  it('filling /mnt/data fails cleanly at its cap, and the kernel stays up', async () => {
    const c = (await a.containers.create({ name: 'disk' })).id;
    const r = await execute(c, 'chunk = b"0" * (16 * 1024 * 1024)\nn = 0\ntry:\n    with open("/mnt/data/fill.bin", "wb") as f:\n        while True:\n            f.write(chunk); f.flush(); n += 1\nexcept OSError as e:\n    print("full:", e.errno)\nimport os\nos.remove("/mnt/data/fill.bin")');
    expect(r.status).toBe('completed');
    expect(r.stdout).toMatch(/^full: 28\n$/); // ENOSPC
    expect((await execute(c, '2+2')).results).toEqual([{ type: 'text', text: '4' }]);
  });

  it('a symlink to a file outside /mnt/data is never uploaded', async () => {
    const c = (await a.containers.create({ name: 'symlink' })).id;
    const r = await execute(c, 'import os\nos.symlink("/etc/passwd", "/mnt/data/passwd-link")\nos.symlink("/proc/self/environ", "/mnt/data/env-link")\nopen("/mnt/data/plain.txt", "w").write("uploaded")\nprint("linked")');
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 'completed', stdout: 'linked\n' });
    // The regular file written beside the links is uploaded: the snapshot ran and saw the directory.
    expect(r.files.map((f) => f.path)).toEqual(['/mnt/data/plain.txt']);
    const listed = (await a.containers.files.list(c)).data.map((f) => f.path);
    expect(listed).toEqual(['/mnt/data/plain.txt']);
  });

  it('two containers never see each other\'s files or processes', async () => {
    const one = (await a.containers.create({ name: 'one' })).id;
    const two = (await a.containers.create({ name: 'two' })).id;
    const first = await execute(one, 'open("/mnt/data/secret-one.txt","w").write("1")\nimport subprocess\np = subprocess.Popen(["sleep", "300"])\nprint("sleeping", p.poll() is None)');
    expect({ status: first.status, stdout: first.stdout }).toEqual({ status: 'completed', stdout: 'sleeping True\n' });
    const r = await execute(two, 'import os\nopen("/mnt/data/mine-two.txt","w").write("2")\nprint(os.listdir("/mnt/data"))\nprint([open(f"/proc/{p}/cmdline").read() for p in os.listdir("/proc") if p.isdigit()])');
    expect(r.status).toBe('completed');
    const [files, processes] = r.stdout.split('\n');
    expect(files).toBe("['mine-two.txt']");
    expect(processes).toContain('runner'); // its own kernel is listed, so the listing worked
    expect(processes).not.toContain('sleep');
  });

  describe('system calls a notebook never needs are denied by the seccomp profile', () => {
    let sc: string;

    beforeAll(async () => {
      sc = (await a.containers.create({ name: 'seccomp' })).id;
    });

    it('ptrace(PTRACE_ATTACH) on PID 1 gets EPERM, and the runner answers right after', async () => {
      // Same uid as tini (PID 1): without the profile the attach succeeds and stops the sandbox.
      const code = [
        'import ctypes',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'libc.ptrace.restype = ctypes.c_long',
        'libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]',
        'ctypes.set_errno(0)',
        'r = libc.ptrace(16, 1, None, None)  # PTRACE_ATTACH',
        'print(f"ptrace denied errno {ctypes.get_errno()}" if r == -1 else f"ptrace ATTACHED {r}")',
      ].join('\n');
      const r = await execute(sc, code, { timeout_ms: 15_000 });
      expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 'completed', stdout: 'ptrace denied errno 1\n' });
      const started = Date.now();
      const next = await execute(sc, 'print("still answering")');
      expect({ status: next.status, stdout: next.stdout, state_lost: next.state_lost }).toEqual({ status: 'completed', stdout: 'still answering\n', state_lost: false });
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    // Each call is made with arguments that succeed, or fail with another errno, when unfiltered.
    it.each([
      ['process_vm_readv of PID 1', 'process_vm_readv', '1, 0, 0, 0, 0, 0'],
      ['unshare(CLONE_NEWUSER)', 'unshare', '0x10000000'],
      ['clone(CLONE_NEWUSER)', 'clone', '0x10000000 | 17, 0, 0, 0, 0'],
      ['keyctl(KEYCTL_GET_KEYRING_ID, session)', 'keyctl', '0, -3, 0'],
      ['bpf(BPF_MAP_CREATE)', 'bpf', '0, 0, 0'],
      ['userfaultfd(UFFD_USER_MODE_ONLY)', 'userfaultfd', '1'],
      ['io_uring_setup', 'io_uring_setup', '1, 0'],
      ['perf_event_open', 'perf_event_open', '0, 0, -1, -1, 0'],
    ])('%s gets EPERM', async (_case, name, args) => {
      const r = await execute(sc, `${SYSCALLS}denied("${name}", ${args})`);
      expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 'completed', stdout: `${name} denied errno 1\n` });
    });

    it('the unshare command cannot make a user namespace', async () => {
      const r = await execute(sc, 'import subprocess\np = subprocess.run(["unshare", "-U", "id", "-u"], capture_output=True, text=True)\nprint("exit", p.returncode)\nprint(p.stdout + p.stderr)');
      expect(r.status).toBe('completed');
      expect(r.stdout).toMatch(/^exit 1\n.*unshare failed: Operation not permitted/);
    });

    it('fork, threads, subprocess, !cmd, multiprocessing, threaded numpy and ffmpeg still work', async () => {
      const code = [
        'import os, threading, subprocess, multiprocessing, concurrent.futures',
        'import numpy as np',
        'pid = os.fork()',
        'if pid == 0:',
        '    os._exit(7)',
        'print("fork", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))',
        'with concurrent.futures.ThreadPoolExecutor(4) as ex:',
        '    print("threads", sum(ex.map(lambda n: n * n, range(10))))',
        'print(subprocess.run(["sh", "-c", "echo subprocess $((6 * 7))"], capture_output=True, text=True).stdout.strip())',
        'shell = !echo bang',
        'print("shell", shell[0])',
        'with multiprocessing.Pool(2) as pool:',
        '    print("pool", pool.map(abs, [-1, -2, -3]))',
        'm = np.random.default_rng(0).random((400, 400))',
        'print("numpy", np.allclose(m @ np.linalg.inv(m), np.eye(400), atol=1e-6))',
        'v = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True)',
        'print("ffmpeg", v.returncode, v.stdout.split()[0])',
      ].join('\n');
      const r = await execute(sc, code, { timeout_ms: 60_000 });
      expect({ status: r.status, error: r.error }).toEqual({ status: 'completed', error: null });
      expect(r.stdout).toBe('fork 7\nthreads 285\nsubprocess 42\nshell bang\npool [1, 2, 3]\nnumpy True\nffmpeg 0 ffmpeg\n');
    });
  });
});
