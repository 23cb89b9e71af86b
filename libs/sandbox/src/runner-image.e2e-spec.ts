import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SANDBOX_SECCOMP_PROFILE } from './seccomp-profile';

/**
 * The kernel runner's own suite (libs/sandbox/image/test_runner.py), inside the real sandbox image,
 * run the way the driver runs it: read-only, no network, no capabilities, our seccomp profile,
 * non-root, memory and pids capped. It drives the JSON-lines protocol directly: state, results, streaming order, tracebacks,
 * figures, /mnt/data snapshots, put/get/delete with symlink refusal, interrupts, output caps, and
 * user code that closes or re-points stdout/stderr.
 */
describe('kernel runner inside the sandbox image', () => {
  it('passes every protocol check', async () => {
    const image = process.env.SANDBOX_IMAGE ?? 'cibox-sandbox:latest';
    const script = path.join(__dirname, '..', 'image', 'test_runner.py');
    // The docker CLI takes a profile by path, where the driver passes its text through the API.
    const profile = path.join(mkdtempSync(path.join(os.tmpdir(), 'cibox-seccomp-')), 'profile.json');
    writeFileSync(profile, JSON.stringify(SANDBOX_SECCOMP_PROFILE));
    const args = [script, '--image', image, '--extra-docker-args', `--security-opt seccomp=${profile}`];
    const child = spawn('python3', args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
