import { client } from './support/clients';
import { execute, type Execution } from './support/executions';

/**
 * User code shares the runner's process, so it can write to the protocol channel (fd 3, the
 * runner's private copy of its original stdout). Whatever it writes must end only that sandbox's
 * session: never the worker that serves every other container.
 */

/** Python that finds the running cell's id the way hostile code would (the runner's state object). */
const PRELUDE = [
  'import gc, json, os, random',
  'state = next(o for o in gc.get_objects() if type(o).__name__ == "CellState")',
  'me = state.id',
  'def put(raw):',
  '    view = memoryview(raw + b"\\n")',
  '    while view:',
  '        view = view[os.write(3, view):]',
].join('\n');

/** Thousands of malformed, truncated, wrongly typed and forged lines, after a first violation. */
const FUZZ_TAIL = (seed: number, count: number) =>
  [
    `rnd = random.Random(${seed})`,
    'valid = [',
    '    {"type": "stdout", "id": me, "text": "x"},',
    '    {"type": "result", "id": me, "text": "1"},',
    '    {"type": "done", "id": me, "status": "ok", "error": None, "files": [], "deleted": [], "truncated": {"stdout": False, "stderr": False}},',
    '    {"type": "image", "id": me, "format": "png", "data": "iVBORw0KGgo="},',
    '    {"type": "pong"},',
    '    {"type": "file_chunk", "path": "/mnt/data/x", "data": "AA==", "eof": True},',
    ']',
    'junk = [None, 0, -1, 1.5e308, True, [], {}, "\\u0000", "x" * 5000, {"nested": [[[]]]}]',
    'def line():',
    '    k = rnd.randrange(6)',
    '    if k == 0:',
    '        return bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 300))).replace(b"\\n", b" ")',
    '    msg = dict(rnd.choice(valid))',
    '    if k == 1:',
    '        raw = json.dumps(msg).encode()',
    '        return raw[: rnd.randint(0, len(raw) - 1)]',
    '    if k == 2:',
    '        msg[rnd.choice(list(msg))] = rnd.choice(junk)',
    '    if k == 3:',
    '        return json.dumps(rnd.choice(junk)).encode()',
    '    if k == 4:',
    '        return b"[" * rnd.randint(1, 50000) + b"]" * rnd.randint(0, 50000)',
    '    return json.dumps(msg).encode()',
    'written = 0',
    `for _ in range(${count}):`,
    '    try:',
    '        put(line())',
    '    except OSError:',
    '        break',
    '    written += 1',
    'print("wrote", written)',
  ].join('\n');

/** First lines that each break the protocol in a different way, and what the execution must say. */
const FIRST_LINES: [string, string, RegExp][] = [
  ['a JSON null (the one-line crash)', 'put(b"null")', /malformed protocol message/],
  ['a stdout with a number for text', 'put(json.dumps({"type": "stdout", "id": None, "text": 0}).encode())', /malformed protocol message \(text/],
  ['binary garbage', 'put(bytes(range(1, 10)) + bytes(range(11, 255)))', /not JSON/],
  ['a truncated message', 'put(json.dumps({"type": "stdout", "id": me, "text": "cut"}).encode()[:20])', /not JSON/],
  ['deeply nested arrays', 'put(b"[" * 100000 + b"]" * 100000)', /malformed protocol message/],
  ['a figure that is not a PNG', 'put(json.dumps({"type": "image", "id": me, "format": "png", "data": "R0lGODlhAQABAAAAACw="}).encode())', /not a PNG/],
  ['an answer to no request', 'put(b\'{"type": "pong"}\')', /not made/],
  ['a done for another execution', 'put(json.dumps({"type": "done", "id": "exec_forged", "status": "ok", "error": None, "files": [], "deleted": [], "truncated": {"stdout": False, "stderr": False}}).encode())', /not running/],
  ['a negative file size in done', 'put(json.dumps({"type": "done", "id": me, "status": "ok", "error": None, "files": [{"path": "/mnt/data/a", "size": -5}], "deleted": [], "truncated": {"stdout": False, "stderr": False}}).encode())', /malformed protocol message/],
];

describe('the protocol channel is untrusted input', () => {
  const a = client('a');
  const workerPid = Number(process.env.CIBOX_WORKER_PID);

  const workerAlive = () => {
    process.kill(workerPid, 0); // throws if the process is gone
    return true;
  };

  it('knows the worker it watches', () => {
    expect(workerPid).toBeGreaterThan(0);
    expect(workerAlive()).toBe(true);
  });

  it('the one-line crash fails only that execution; the container keeps its files and runs again', async () => {
    const c = (await a.containers.create({ name: 'one-liner' })).id;
    await execute(c, 'open("/mnt/data/kept.txt", "w").write("still here")\nx = 1');
    const r = await execute(c, 'import os; os.write(3, b"null\\n")');
    expect(r.status).toBe('failed');
    expect(r.error?.name).toBe('SandboxError');
    expect(r.error?.value).toMatch(/malformed protocol message.*restarted with its files/);
    expect(r.state_lost).toBe(true);
    expect(workerAlive()).toBe(true);
    const after = await execute(c, 'print(open("/mnt/data/kept.txt").read())\nprint("x" in dir())');
    expect(after.status).toBe('completed');
    expect(after.stdout).toBe('still here\nFalse\n');
    expect(after.state_lost).toBe(true);
  });

  it('thousands of hostile lines in many containers leave the worker and a bystander container unaffected', async () => {
    // The bystander counts in its own kernel the whole time: any lost state or foreign output shows.
    const bystander = (await a.containers.create({ name: 'bystander' })).id;
    let stop = false;
    const seen: Execution[] = [];
    const watch = (async () => {
      await execute(bystander, 'n = 0');
      while (!stop) seen.push(await execute(bystander, 'n += 1\nprint("bystander", n)'));
    })();

    const abused = await Promise.all([0, 1, 2].map((i) => a.containers.create({ name: `abused-${i}` }).then((x) => x.id)));
    for (const c of abused) expect((await execute(c, `open("/mnt/data/own.txt", "w").write("${c}")`)).status).toBe('completed');

    let lines = 0;
    for (let round = 0; round < FIRST_LINES.length; round++) {
      const [, first, message] = FIRST_LINES[round]!;
      const c = abused[round % abused.length]!;
      const r = await execute(c, [PRELUDE, first, FUZZ_TAIL(round, 1500)].join('\n'), { timeout_ms: 30_000 });
      expect({ round, status: r.status, name: r.error?.name, value: r.error?.value }).toMatchObject({ round, status: 'failed', name: 'SandboxError', value: expect.stringMatching(message) });
      expect(r.state_lost).toBe(true);
      lines += 1500;
      expect(workerAlive()).toBe(true);
      // Usable again, with its files, in a fresh kernel.
      const again = await execute(c, 'print(open("/mnt/data/own.txt").read())');
      expect(again.status).toBe('completed');
      expect(again.stdout).toBe(`${c}\n`);
    }
    stop = true;
    await watch;

    expect(lines).toBeGreaterThanOrEqual(10_000);
    expect(seen.length).toBeGreaterThan(FIRST_LINES.length);
    seen.forEach((e, i) => {
      expect({ status: e.status, stdout: e.stdout, state_lost: e.state_lost }).toEqual({ status: 'completed', stdout: `bystander ${i + 1}\n`, state_lost: false });
    });
  });

  it('a forged done never lets the next execution wait on or mix with a cell still running', async () => {
    const c = (await a.containers.create({ name: 'forged-done' })).id;
    await execute(c, 'open("/mnt/data/before.txt", "w").write("b")');
    const forged = [
      PRELUDE,
      'print("before the forgery", flush=True)',
      'put(json.dumps({"type": "done", "id": me, "status": "ok", "error": None, "files": [{"path": "/etc/passwd", "size": 1}, {"path": "/mnt/data/../../etc/shadow", "size": 1}], "deleted": [], "truncated": {"stdout": False, "stderr": False}}).encode())',
      'import time',
      'time.sleep(4)',
      'print("LATE OUTPUT", flush=True)',
    ].join('\n');
    const first = await execute(c, forged, { timeout_ms: 30_000 });
    // The forged report is all the worker had; what it claimed outside /mnt/data was ignored.
    expect(first.status).toBe('completed');
    expect(first.files.map((f) => f.path)).toEqual([]);
    // The next cell is refused by the runner while the forger still runs: it fails at once, not at its timeout.
    const next = await execute(c, 'print("next")', { timeout_ms: 20_000 });
    expect(next.status).toBe('failed');
    expect(next.error?.value).toMatch(/still running/);
    expect(next.stdout).not.toContain('LATE OUTPUT');
    const after = await execute(c, 'import os\nprint(sorted(os.listdir("/mnt/data")))');
    expect(after.status).toBe('completed');
    expect(after.stdout).toBe("['before.txt']\n");
    expect(after.stdout).not.toContain('LATE OUTPUT');
    expect(workerAlive()).toBe(true);
  });
});
