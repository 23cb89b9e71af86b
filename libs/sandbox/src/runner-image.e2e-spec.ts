import { spawn } from 'node:child_process';
import path from 'node:path';

/**
 * The kernel runner's own suite (libs/sandbox/image/test_runner.py), inside the real sandbox image,
 * run the way the driver runs it: read-only, no network, no capabilities, non-root, memory and pids
 * capped. It drives the JSON-lines protocol directly: state, results, streaming order, tracebacks,
 * figures, /mnt/data snapshots, put/get/delete with symlink refusal, interrupts, output caps, and
 * user code that closes or re-points stdout/stderr.
 */
describe('kernel runner inside the sandbox image', () => {
  it('passes every protocol check', async () => {
    const image = process.env.SANDBOX_IMAGE ?? 'cibox-sandbox:latest';
    const script = path.join(__dirname, '..', 'image', 'test_runner.py');
    const child = spawn('python3', [script, '--image', image], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));

    const failures = output.split('\n').filter((l) => l.startsWith('FAIL'));
    expect(failures).toEqual([]);
    const summary = /(\d+) passed, (\d+) failed/.exec(output);
    expect(summary).not.toBeNull();
    expect(Number(summary![1])).toBeGreaterThanOrEqual(45);
    expect(Number(summary![2])).toBe(0);
    expect(code).toBe(0);
  }, 180_000);
});
