import { toFile } from 'openai';
import { ageContainer, client, expectOpenAIError, raw, baseUrl } from './support/clients';
import { eventually } from '@cibox/testing';
import { execute } from './support/executions';

describe('executions (our extension) in a real sandbox', () => {
  const a = client('a');
  let containerId: string;

  beforeAll(async () => {
    containerId = (await a.containers.create({ name: 'exec' })).id;
  });

  /** Starts a streamed execution; resolves with the response once its headers (and id) are in. */
  const startStreamed = (code: string, signal: AbortSignal) =>
    fetch(`${baseUrl()}/v1/containers/${containerId}/executions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${process.env.CIBOX_KEY_A}`, 'content-type': 'application/json' },
      body: JSON.stringify({ code, stream: true }),
      signal,
    });

  /** Reads a streamed execution until its output includes `text`. */
  async function readUntil(res: Response, text: string): Promise<void> {
    const reader = res.body!.getReader();
    for (let seen = ''; !seen.includes(text); ) seen += new TextDecoder().decode((await reader.read()).value);
  }

  async function ended(executionId: string): Promise<Record<string, unknown>> {
    return eventually(async () => {
      const got = await raw('GET', `/v1/containers/${containerId}/executions/${executionId}`);
      return got.json?.status !== 'in_progress' && got.json;
    }, { timeoutMs: 30_000 });
  }

  it('keeps variables, imports and functions across executions, and returns the last expression', async () => {
    const first = await execute(containerId, 'import math\nx = 41\ndef inc(v):\n    return v + 1\nprint("hello")');
    expect(first).toMatchObject({ object: 'container.execution', status: 'completed', stdout: 'hello\n', error: null, container_id: containerId });
    expect(first.id).toMatch(/^exec_/);
    const second = await execute(containerId, 'inc(x)');
    expect(second.results).toEqual([{ type: 'text', text: '42' }]);
    const third = await execute(containerId, 'math.sqrt(16)');
    expect(third.results).toEqual([{ type: 'text', text: '4.0' }]);
  });

  it('returns an exception as error {name, value, traceback} and captures stderr', async () => {
    const r = await execute(containerId, 'import sys\nprint("to stderr", file=sys.stderr)\n1/0');
    expect(r.status).toBe('failed');
    expect(r.stderr).toContain('to stderr');
    expect(r.error).toMatchObject({ name: 'ZeroDivisionError', value: 'division by zero' });
    expect(r.error!.traceback.join('\n')).toContain('ZeroDivisionError');
  });

  it('has numpy, pandas and matplotlib loaded, and the data stack importable', async () => {
    const r = await execute(containerId, 'import numpy, pandas, scipy, sklearn, seaborn, sympy, plotly, PIL, openpyxl, xlrd, tabulate, cv2\nprint(pandas.DataFrame({"a":[1,2]}).a.sum())');
    expect(r.error).toBeNull();
    expect(r.stdout).toBe('3\n');
  });

  it('returns matplotlib figures as PNG images saved as container files', async () => {
    const r = await execute(containerId, 'import matplotlib.pyplot as plt\nplt.plot([1,2,3],[1,4,9])\nplt.show()\nplt.figure(); plt.bar([1],[2])');
    expect(r.status).toBe('completed');
    const images = r.results.filter((x) => x.type === 'image');
    expect(images).toHaveLength(2);
    for (const img of images) {
      if (img.type !== 'image') throw new Error('not an image');
      const file = await a.containers.files.retrieve(img.file_id, { container_id: containerId });
      expect(file).toMatchObject({ source: 'assistant' });
      expect(file.path).toMatch(/^\/mnt\/data\/.*\.png$/);
      const png = Buffer.from(await (await a.containers.files.content.retrieve(img.file_id, { container_id: containerId })).arrayBuffer());
      expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    }
  });

  it('has ffmpeg: a cell renders a video that comes back as a container file', async () => {
    const r = await execute(
      containerId,
      'import subprocess\nsubprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=duration=1:size=64x64:rate=5", "-pix_fmt", "yuv420p", "/mnt/data/clip.mp4"], check=True)\nprint(open("/mnt/data/clip.mp4", "rb").read(12)[4:8])',
    );
    expect({ status: r.status, error: r.error }).toEqual({ status: 'completed', error: null });
    expect(r.stdout).toBe("b'ftyp'\n");
    const clip = r.files.find((f) => f.path === '/mnt/data/clip.mp4');
    expect(clip?.source).toBe('assistant');
    const bytes = Buffer.from(await (await a.containers.files.content.retrieve(clip!.id, { container_id: containerId })).arrayBuffer());
    expect(bytes.length).toBe(clip!.bytes);
    expect(bytes.subarray(4, 8).toString()).toBe('ftyp');
  });

  it('uploads files a cell writes under /mnt/data as assistant container files', async () => {
    const r = await execute(containerId, 'import pandas as pd\npd.DataFrame({"n":[1,2,3]}).to_csv("/mnt/data/out.csv", index=False)\nopen("/mnt/data/sub_dir_note.txt","w").write("note")');
    expect(r.status).toBe('completed');
    const out = r.files.find((f) => f.path === '/mnt/data/out.csv');
    expect(out).toMatchObject({ source: 'assistant', bytes: 8 });
    const body = await (await a.containers.files.content.retrieve(out!.id, { container_id: containerId })).text();
    expect(body).toBe('n\n1\n2\n3\n');
    const listed = (await a.containers.files.list(containerId, { limit: 100 })).data.map((f) => f.path);
    expect(listed).toEqual(expect.arrayContaining(['/mnt/data/out.csv', '/mnt/data/sub_dir_note.txt']));
  });

  it('shows files uploaded through the API inside the live container, and their replacement', async () => {
    await a.containers.files.create(containerId, { file: await toFile(Buffer.from('a,b\n1,2\n'), 'input.csv') });
    const r = await execute(containerId, 'print(open("/mnt/data/input.csv").read())');
    expect(r.stdout).toBe('a,b\n1,2\n\n');
    await a.containers.files.create(containerId, { file: await toFile(Buffer.from('new'), 'input.csv') });
    expect((await execute(containerId, 'print(open("/mnt/data/input.csv").read())')).stdout).toBe('new\n');
  });

  it('streams stdout as SSE events, ending with the whole execution', async () => {
    const res = await fetch(`${baseUrl()}/v1/containers/${containerId}/executions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${process.env.CIBOX_KEY_A}`, 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.2)\n"end"', stream: true }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const arrivals: { type: string; at: number; data: any }[] = [];
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += Buffer.from(value).toString();
      let idx;
      while ((idx = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, idx);
        buffer = buffer.slice(idx + 2);
        const type = /^event: (.*)$/m.exec(frame)![1]!;
        arrivals.push({ type, at: Date.now(), data: JSON.parse(/^data: (.*)$/m.exec(frame)![1]!) });
      }
    }
    const stdout = arrivals.filter((e) => e.type === 'stdout');
    expect(stdout.map((e) => e.data.text).join('')).toBe('0\n1\n2\n');
    expect(stdout.length).toBeGreaterThanOrEqual(2);
    // Streamed as written: the first line arrived well before the last.
    expect(stdout.at(-1)!.at - stdout[0]!.at).toBeGreaterThan(200);
    expect(arrivals.find((e) => e.type === 'result')!.data.result).toEqual({ type: 'text', text: "'end'" });
    const done = arrivals.at(-1)!;
    expect(done.type).toBe('done');
    expect(done.data.execution).toMatchObject({ status: 'completed', stdout: '0\n1\n2\n' });
    // First comes `created`, carrying the id (also in a header) before any output.
    expect(arrivals[0]!.type).toBe('created');
    expect(arrivals[0]!.data.execution).toMatchObject({ id: done.data.execution.id, status: 'in_progress', container_id: containerId });
    expect(res.headers.get('x-execution-id')).toBe(done.data.execution.id);
  });

  it('a client that drops the stream loses nothing: in_progress while it runs, then the result', async () => {
    const abort = new AbortController();
    const res = await fetch(`${baseUrl()}/v1/containers/${containerId}/executions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${process.env.CIBOX_KEY_A}`, 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'import time\nprint("start", flush=True)\ntime.sleep(1.5)\nprint("end")\ndropped = 7', stream: true }),
      signal: abort.signal,
    });
    const executionId = res.headers.get('x-execution-id')!;
    expect(executionId).toMatch(/^exec_/);
    abort.abort();

    const running = await raw('GET', `/v1/containers/${containerId}/executions/${executionId}`);
    expect(running.status).toBe(200);
    expect(running.json).toMatchObject({ id: executionId, object: 'container.execution', status: 'in_progress' });
    const finished = await eventually(async () => {
      const got = await raw('GET', `/v1/containers/${containerId}/executions/${executionId}`);
      return got.json?.status === 'completed' ? got.json : undefined;
    }, { timeoutMs: 30_000 });
    expect(finished).toMatchObject({ stdout: 'start\nend\n', error: null });
    expect((await execute(containerId, 'dropped')).results).toEqual([{ type: 'text', text: '7' }]);
    const theirs = await raw('GET', `/v1/containers/${containerId}/executions/${executionId}`, { key: process.env.CIBOX_KEY_B! });
    expect(theirs.status).toBe(404);
  });

  it('cancel interrupts a running cell: it ends cancelled, its variables kept, and the next cell runs at once', async () => {
    await execute(containerId, 'kept = 11');
    const abort = new AbortController();
    const res = await startStreamed('import time\nprint("started", flush=True)\ntime.sleep(60)\nopen("/mnt/data/not-cancelled.txt", "w").close()', abort.signal);
    const executionId = res.headers.get('x-execution-id')!;
    // Wait until the cell runs (its first output), then cancel it.
    await readUntil(res, 'started');
    const cancel = await raw('POST', `/v1/containers/${containerId}/executions/${executionId}/cancel`);
    expect(cancel.status).toBe(200);
    expect(cancel.json).toMatchObject({ id: executionId, status: 'in_progress' });
    abort.abort();
    expect(await ended(executionId)).toMatchObject({ status: 'cancelled', state_lost: false, error: { name: 'Cancelled' } });
    // The container is free (the sleep did not go on), and the kernel kept its variables.
    const next = await execute(containerId, 'import os\nprint(os.path.exists("/mnt/data/not-cancelled.txt"), kept)');
    expect(next).toMatchObject({ status: 'completed', stdout: 'False 11\n', state_lost: false });
    // Cancelling again, or another key, changes nothing.
    expect((await raw('POST', `/v1/containers/${containerId}/executions/${executionId}/cancel`)).json).toMatchObject({ status: 'cancelled' });
    expect((await raw('POST', `/v1/containers/${containerId}/executions/${executionId}/cancel`, { key: process.env.CIBOX_KEY_B! })).status).toBe(404);
  });

  // The worker holds the second job until the container's first cell ends, and only then listens
  // for its cancel: the cancel, announced before that, is found by the step that begins it.
  it('cancel of an execution waiting behind another in its container: it ends cancelled and never runs', async () => {
    const abort = new AbortController();
    const first = await startStreamed('import time\nprint("first", flush=True)\ntime.sleep(3)', abort.signal);
    await readUntil(first, 'first');
    const second = await startStreamed('ran_despite_cancel = True', abort.signal);
    const secondId = second.headers.get('x-execution-id')!;
    expect((await raw('POST', `/v1/containers/${containerId}/executions/${secondId}/cancel`)).json).toMatchObject({ status: 'in_progress' });
    abort.abort();
    expect(await ended(secondId)).toMatchObject({ status: 'cancelled', error: { name: 'Cancelled', value: 'The execution was cancelled before it ran.' } });
    expect(await execute(containerId, "print('ran_despite_cancel' in globals())")).toMatchObject({ status: 'completed', stdout: 'False\n' });
  });

  it('retrieves a finished execution, and hides it from another key', async () => {
    const r = await execute(containerId, '7*6');
    const got = await raw('GET', `/v1/containers/${containerId}/executions/${r.id}`);
    expect(got.status).toBe(200);
    expect(got.json).toEqual(r);
    const other = await raw('GET', `/v1/containers/${containerId}/executions/${r.id}`, { key: process.env.CIBOX_KEY_B! });
    expect(other.status).toBe(404);
  });

  it('400 for a bad execution body, 404 for another key\'s container', async () => {
    const bad = await raw('POST', `/v1/containers/${containerId}/executions`, { body: { code: 5 } });
    expect(bad.status).toBe(400);
    expectOpenAIError(bad.json, 'code');
    const neg = await raw('POST', `/v1/containers/${containerId}/executions`, { body: { code: '1', timeout_ms: -1 } });
    expectOpenAIError(neg.json, 'timeout_ms');
    const theirs = await raw('POST', `/v1/containers/${containerId}/executions`, { body: { code: '1' }, key: process.env.CIBOX_KEY_B! });
    expect(theirs.status).toBe(404);
  });

  it('sys.exit() in a cell does not end the kernel', async () => {
    await execute(containerId, 'keep = "still here"\nimport sys\nsys.exit(3)');
    expect((await execute(containerId, 'keep')).results).toEqual([{ type: 'text', text: "'still here'" }]);
  });

  it('an expired container refuses executions with 400', async () => {
    const c = await a.containers.create({ name: 'exp', expires_after: { anchor: 'last_active_at', minutes: 1 } });
    await ageContainer(c.id, 120);
    const res = await raw('POST', `/v1/containers/${c.id}/executions`, { body: { code: '1' } });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe('Container is expired.');
  });

  it('state_lost is true whenever variables were lost, however soon the next execution comes', async () => {
    const c = (await a.containers.create({ name: 'state-lost' })).id;
    expect((await execute(c, 'v = 41')).state_lost).toBe(false);
    // Ignores the interrupt: killed at the hard limit, and a new sandbox is started in the background.
    const killed = await execute(c, 'import time\nwhile True:\n    try:\n        time.sleep(10)\n    except KeyboardInterrupt:\n        pass', { timeout_ms: 500 });
    expect({ status: killed.status, state_lost: killed.state_lost }).toEqual({ status: 'timed_out', state_lost: true });
    // Right away: this races the background restart, and must still say the variables are gone.
    const next = await execute(c, 'print("v" in dir())');
    expect({ status: next.status, stdout: next.stdout, state_lost: next.state_lost }).toEqual({ status: 'completed', stdout: 'False\n', state_lost: true });
    // The kernel that ran `next` is still there: nothing more was lost.
    const after = await execute(c, 'v = 1\nv');
    expect({ status: after.status, state_lost: after.state_lost }).toEqual({ status: 'completed', state_lost: false });
  });
});

