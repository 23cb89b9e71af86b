import type { ExecutionError, ExecutionStatus } from '@cibox/contracts';
import { KernelProtocolError, type KernelDone } from '@cibox/sandbox';

/** What happened to one cell, as the execution service saw it. */
export interface CellRun {
  /** The runner's report, or null when the kernel went away before sending one. */
  done: KernelDone | null;
  /** Why the session ended, if it did (during the cell or the file sync after it). */
  failure: Error | null;
  /** The soft timeout fired and the cell was interrupted. */
  interrupted: boolean;
  /** The execution was cancelled and the cell interrupted (it may have been killed after, as on a timeout). */
  cancelled: boolean;
  /** The cell ignored the interrupt and the sandbox was killed. */
  killed: boolean;
  /** The kernel was killed by the memory limit. */
  oomKilled: boolean;
  timeoutMs: number;
  memoryLimit: string;
}

export interface CellOutcome {
  status: ExecutionStatus;
  error: ExecutionError | null;
  /** The sandbox can no longer be used: it is discarded and recreated with its files. */
  sandboxLost: boolean;
}

const lostNote = 'was restarted with its files; variables were lost.';

/** Decides an execution's status and error from how its cell ended. Pure: the rules in one place. */
export function cellOutcome(run: CellRun): CellOutcome {
  if (run.failure instanceof KernelProtocolError) {
    // Whatever the runner reported before breaking the protocol cannot be trusted.
    return { status: 'failed', sandboxLost: true, error: { name: 'SandboxError', value: `The sandbox ${run.failure.message} and ${lostNote}`, traceback: [] } };
  }
  if (run.done && !run.failure) {
    if (run.cancelled && run.done.error?.name === 'KeyboardInterrupt') {
      return { status: 'cancelled', sandboxLost: false, error: { ...run.done.error, name: 'Cancelled', value: 'The execution was cancelled and interrupted; variables were kept.' } };
    }
    if (run.interrupted && run.done.error?.name === 'KeyboardInterrupt') {
      return {
        status: 'timed_out',
        sandboxLost: false,
        error: { ...run.done.error, name: 'TimeoutError', value: `Execution exceeded its timeout of ${run.timeoutMs} ms and was interrupted; variables were kept.` },
      };
    }
    if (run.done.status === 'error') return { status: 'failed', sandboxLost: false, error: run.done.error };
    return { status: 'completed', sandboxLost: false, error: null };
  }
  if (run.done) {
    // The cell ended, then the kernel died before its files were handed over.
    return { status: 'failed', sandboxLost: true, error: { name: 'SandboxError', value: `The sandbox kernel exited after the cell ended, before its files were saved, and ${lostNote}`, traceback: [] } };
  }
  // The kernel is gone: killed after a timeout or a cancel, out of memory, or crashed.
  if (run.cancelled && (run.killed || !run.oomKilled)) {
    return { status: 'cancelled', sandboxLost: true, error: { name: 'Cancelled', value: `The execution was cancelled and did not stop when interrupted; the sandbox ${lostNote}`, traceback: [] } };
  }
  if (run.killed || (run.interrupted && !run.oomKilled)) {
    return {
      status: 'timed_out',
      sandboxLost: true,
      error: { name: 'TimeoutError', value: `Execution exceeded its timeout of ${run.timeoutMs} ms and did not stop when interrupted; the sandbox ${lostNote}`, traceback: [] },
    };
  }
  if (run.oomKilled) {
    return { status: 'failed', sandboxLost: true, error: { name: 'MemoryError', value: `The sandbox ran out of memory (limit ${run.memoryLimit}) and ${lostNote}`, traceback: [] } };
  }
  return { status: 'failed', sandboxLost: true, error: { name: 'SandboxError', value: `The sandbox kernel exited unexpectedly and ${lostNote}`, traceback: [] } };
}
