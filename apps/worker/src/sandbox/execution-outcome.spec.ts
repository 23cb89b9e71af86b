import { KernelGoneError, KernelProtocolError, type KernelDone, type KernelError } from '@cibox/sandbox';
import { cellOutcome, type CellOutcome, type CellRun } from './execution-outcome';

function done(status: 'ok' | 'error' = 'ok', error: KernelError | null = null): KernelDone {
  return { type: 'done', id: 'exec_1', status, error, files: [], deleted: [], truncated: { stdout: false, stderr: false } };
}

const valueError: KernelError = { name: 'ValueError', value: 'bad value', traceback: ['Traceback...', 'ValueError: bad value'] };
const keyboardInterrupt: KernelError = { name: 'KeyboardInterrupt', value: '', traceback: ['Traceback...', 'KeyboardInterrupt'] };

function run(overrides: Partial<CellRun>): CellRun {
  return { done: null, failure: null, interrupted: false, cancelled: false, killed: false, oomKilled: false, timeoutMs: 5000, memoryLimit: '4g', ...overrides };
}

type Expected = Omit<CellOutcome, 'error'> & { error: null | { name: string; value?: RegExp; traceback?: string[] } };

const cases: [string, CellRun, Expected][] = [
  ['a cell that ends ok is completed', run({ done: done() }), { status: 'completed', sandboxLost: false, error: null }],
  [
    'an error in the cell fails the execution with that error, and keeps the sandbox',
    run({ done: done('error', valueError) }),
    { status: 'failed', sandboxLost: false, error: { name: 'ValueError', value: /^bad value$/, traceback: valueError.traceback } },
  ],
  [
    'an interrupted cell that stopped with KeyboardInterrupt timed out and kept its variables',
    run({ done: done('error', keyboardInterrupt), interrupted: true }),
    { status: 'timed_out', sandboxLost: false, error: { name: 'TimeoutError', value: /timeout of 5000 ms.*variables were kept/, traceback: keyboardInterrupt.traceback } },
  ],
  [
    'a KeyboardInterrupt the worker did not send (user code raised it) is the cell\'s own error',
    run({ done: done('error', keyboardInterrupt) }),
    { status: 'failed', sandboxLost: false, error: { name: 'KeyboardInterrupt' } },
  ],
  [
    'a cell that finished ok just as the interrupt was sent is completed',
    run({ done: done(), interrupted: true }),
    { status: 'completed', sandboxLost: false, error: null },
  ],
  [
    'a cancelled cell that stopped with KeyboardInterrupt is cancelled and kept its variables',
    run({ done: done('error', keyboardInterrupt), cancelled: true }),
    { status: 'cancelled', sandboxLost: false, error: { name: 'Cancelled', value: /cancelled and interrupted; variables were kept/ } },
  ],
  [
    'a cancelled cell that finished just before the interrupt is completed',
    run({ done: done(), cancelled: true }),
    { status: 'completed', sandboxLost: false, error: null },
  ],
  [
    'a cancelled cell that ignored the interrupt and was killed is cancelled and lost the sandbox',
    run({ failure: new KernelGoneError(), cancelled: true, killed: true }),
    { status: 'cancelled', sandboxLost: true, error: { name: 'Cancelled', value: /did not stop when interrupted.*variables were lost/ } },
  ],
  [
    'a cell that ignored the interrupt and was killed timed out and lost the sandbox',
    run({ failure: new KernelGoneError(), interrupted: true, killed: true }),
    { status: 'timed_out', sandboxLost: true, error: { name: 'TimeoutError', value: /timeout of 5000 ms and did not stop when interrupted.*variables were lost/ } },
  ],
  [
    'a killed sandbox is a timeout even if the kernel also reports OOM',
    run({ failure: new KernelGoneError(), interrupted: true, killed: true, oomKilled: true }),
    { status: 'timed_out', sandboxLost: true, error: { name: 'TimeoutError' } },
  ],
  [
    'a kernel killed by the memory limit is a MemoryError naming the limit',
    run({ failure: new KernelGoneError(), oomKilled: true }),
    { status: 'failed', sandboxLost: true, error: { name: 'MemoryError', value: /out of memory \(limit 4g\).*variables were lost/, traceback: [] } },
  ],
  [
    'running out of memory during the interrupt grace is a MemoryError, not a timeout',
    run({ failure: new KernelGoneError(), interrupted: true, oomKilled: true }),
    { status: 'failed', sandboxLost: true, error: { name: 'MemoryError' } },
  ],
  [
    'a kernel that exited on its own is a SandboxError',
    run({ failure: new KernelGoneError() }),
    { status: 'failed', sandboxLost: true, error: { name: 'SandboxError', value: /exited unexpectedly.*variables were lost/, traceback: [] } },
  ],
  [
    'a protocol violation overrides a done that reported success',
    run({ done: done(), failure: new KernelProtocolError('sent a protocol line that is not JSON ("x")') }),
    { status: 'failed', sandboxLost: true, error: { name: 'SandboxError', value: /^The sandbox sent a protocol line that is not JSON \("x"\) and was restarted/ } },
  ],
  [
    'a protocol violation overrides a done that reported KeyboardInterrupt after a timeout',
    run({ done: done('error', keyboardInterrupt), interrupted: true, failure: new KernelProtocolError('reported a protocol error: x') }),
    { status: 'failed', sandboxLost: true, error: { name: 'SandboxError' } },
  ],
  [
    'a protocol violation with no done at all is a SandboxError, even when the timeout fired',
    run({ failure: new KernelProtocolError('sent a figure that is not a PNG image'), interrupted: true }),
    { status: 'failed', sandboxLost: true, error: { name: 'SandboxError', value: /not a PNG image/ } },
  ],
  [
    'a done followed by the kernel dying (during the file sync) fails and loses the sandbox',
    run({ done: done(), failure: new KernelGoneError() }),
    { status: 'failed', sandboxLost: true, error: { name: 'SandboxError', value: /exited after the cell ended, before its files were saved/ } },
  ],
];

describe('cellOutcome', () => {
  it.each(cases)('%s', (_name, input, expected) => {
    const outcome = cellOutcome(input);
    expect(outcome.status).toBe(expected.status);
    expect(outcome.sandboxLost).toBe(expected.sandboxLost);
    if (expected.error === null) return expect(outcome.error).toBeNull();
    expect(outcome.error).not.toBeNull();
    expect(outcome.error!.name).toBe(expected.error.name);
    if (expected.error.value) expect(outcome.error!.value).toMatch(expected.error.value);
    if (expected.error.traceback) expect(outcome.error!.traceback).toEqual(expected.error.traceback);
  });

  // A cell that did stop on the interrupt, and whose kernel
  // died afterwards (during the file sync), is reported as one that "did not stop when interrupted".
  it('does not claim an interrupted cell ignored the interrupt when it stopped and the kernel died later', () => {
    const outcome = cellOutcome(run({ done: done('error', keyboardInterrupt), interrupted: true, failure: new KernelGoneError() }));
    expect(outcome.sandboxLost).toBe(true);
    expect(outcome.error?.value).not.toMatch(/did not stop when interrupted/);
  });

  it('never reports the variables as kept when the sandbox was lost', () => {
    for (const [, input] of cases) {
      const { sandboxLost, error } = cellOutcome(input);
      if (sandboxLost) expect(error?.value).not.toMatch(/variables were kept/);
    }
  });
});
