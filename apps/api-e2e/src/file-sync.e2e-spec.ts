import { toFile } from 'openai';
import { eventually } from '@cibox/testing';
import { baseUrl, client } from './support/clients';
import { execute, type Execution } from './support/executions';

/** Runs `code` streaming, calls `onStdout` with each stdout text as it arrives, and returns the finished execution. */
async function streamExecution(containerId: string, code: string, onStdout: (text: string) => Promise<void>): Promise<Execution> {
  const res = await fetch(`${baseUrl()}/v1/containers/${containerId}/executions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${process.env.CIBOX_KEY_A}`, 'content-type': 'application/json' },
    body: JSON.stringify({ code, stream: true }),
  });
  const reader = res.body!.getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('the stream ended without a done event');
    buffer += Buffer.from(value).toString();
    let idx;
    while ((idx = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, idx);
      buffer = buffer.slice(idx + 2);
      const type = /^event: (.*)$/m.exec(frame)?.[1];
      const data = JSON.parse(/^data: (.*)$/m.exec(frame)?.[1] ?? 'null') as { text?: string; execution?: Execution };
      if (type === 'stdout') await onStdout(data.text ?? '');
      if (type === 'done') return data.execution!;
    }
  }
}

describe('files moving between a sandbox and S3', () => {
  const a = client('a');

  it('an upload made while a cell rewrites the same file wins, and the next cell sees it', async () => {
    const c = await a.containers.create({ name: 'upload-vs-cell' });
    let uploadId: string | undefined;
    const code = [
      'import time',
      "print('started', flush=True)",
      'end, n = time.time() + 2.5, 0',
      'while time.time() < end:',
      "    with open('/mnt/data/x.txt', 'w') as f: f.write(f'cell {n}')",
      '    n += 1',
      '    time.sleep(0.01)',
    ].join('\n');
    const execution = await streamExecution(c.id, code, async (text) => {
      if (!text.includes('started')) return;
      // The cell is rewriting x.txt now; this upload is answered 200, so it must be what is kept.
      uploadId = (await a.containers.files.create(c.id, { file: await toFile(Buffer.from('from the upload'), 'x.txt') })).id;
    });
    expect(uploadId).toBeDefined();
    expect(execution.status).toBe('completed');
    expect(execution.files.map((f) => f.path)).not.toContain('/mnt/data/x.txt');
    expect(execution.stderr).toContain("/mnt/data/x.txt changed through the API while this cell ran; the API's version is kept");

    const listed = (await a.containers.files.list(c.id)).data;
    expect(listed.map((f) => [f.id, f.path, f.source])).toEqual([[uploadId, '/mnt/data/x.txt', 'user']]);
    const content = await (await a.containers.files.content.retrieve(uploadId!, { container_id: c.id })).text();
    expect(content).toBe('from the upload');
    const next = await execute(c.id, "print(open('/mnt/data/x.txt').read())");
    expect(next.stdout).toBe('from the upload\n');
  });

  it('a cell that rewrites a file uploaded before it started keeps its own version', async () => {
    const c = await a.containers.create({ name: 'cell-after-upload' });
    const up = await a.containers.files.create(c.id, { file: await toFile(Buffer.from('uploaded'), 'y.txt') });
    const run = await execute(c.id, "open('/mnt/data/y.txt', 'w').write('rewritten by the cell')");
    expect(run.files.map((f) => f.path)).toEqual(['/mnt/data/y.txt']);
    const listed = (await a.containers.files.list(c.id)).data;
    expect(listed.map((f) => f.id)).toEqual([run.files[0]!.id]);
    expect(listed.map((f) => f.id)).not.toContain(up.id);
    expect(await (await a.containers.files.content.retrieve(run.files[0]!.id, { container_id: c.id })).text()).toBe('rewritten by the cell');
  });

  it('a cell writing 5,000 files gets its result in bounded time with 1,000 saved, and the rest are saved right after', async () => {
    const c = await a.containers.create({ name: 'many-files' });
    const code = [
      'import os',
      "os.makedirs('/mnt/data/many', exist_ok=True)",
      'for i in range(5000):',
      "    open(f'/mnt/data/many/f{i:04}.txt', 'w').write(str(i))",
    ].join('\n');
    const started = Date.now();
    const execution = await execute(c.id, code, { timeout_ms: 30_000 });
    const took = Date.now() - started;
    expect(execution.status).toBe('completed');
    // Saving them one by one took 28-33 s here; the first 1,000 now take a few seconds.
    expect(took).toBeLessThan(20_000);
    expect(execution.files).toHaveLength(1000);
    expect(execution.files.map((f) => f.path)).toEqual(Array.from({ length: 1000 }, (_, i) => `/mnt/data/many/f${String(i).padStart(4, '0')}.txt`));
    expect(execution.stderr).toContain(
      'this cell changed 5000 files under /mnt/data; 1000 are saved with this result (at most 1000 per execution), the other 4000 are being saved now',
    );

    const count = async () => {
      let n = 0;
      for await (const f of a.containers.files.list(c.id, { limit: 100 })) if (f.path.startsWith('/mnt/data/many/')) n++;
      return n;
    };
    await eventually(async () => (await count()) === 5000, { timeoutMs: 120_000, intervalMs: 1000 });
    // The next execution runs once they are saved, and sees them all.
    const next = await execute(c.id, "import os; print(len(os.listdir('/mnt/data/many')))");
    expect(next.stdout).toBe('5000\n');
    expect(next.stderr).toBe('');
  });
});
