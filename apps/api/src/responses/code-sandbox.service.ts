import { Injectable } from '@nestjs/common';
import type { ExecutionObject } from '@cibox/contracts';
import type { SandboxPort } from '@cibox/responses';
import { FileLinks } from '../containers/file-links.service';
import { ExecutionsService } from '../executions/executions.service';

/** The code interpreter's sandbox for the tool loop: a container, executions through the queue, signed links. */
@Injectable()
export class CodeSandbox {
  constructor(
    private readonly executions: ExecutionsService,
    private readonly links: FileLinks,
  ) {}

  /**
   * A sandbox over the container `container()` resolves (called once, on first use: it may create
   * one). Each execution may run `timeoutMs`; image links are built on `origin`.
   */
  port(tenant: string, origin: string, timeoutMs: number, container: () => Promise<string>): SandboxPort {
    let id: Promise<string> | null = null;
    return {
      container: () => (id ??= container()),
      run: (containerId, code, signal) => this.execute(tenant, containerId, code, timeoutMs, signal),
      fileUrl: (containerId, fileId) => this.links.sign(tenant, containerId, fileId, origin),
    };
  }

  /**
   * Runs code through the execution queue and resolves with the finished execution. If `signal`
   * aborts first, it rejects at once and the execution is cancelled (once its id is known).
   */
  private async execute(tenant: string, containerId: string, code: string, timeoutMs: number, signal: AbortSignal): Promise<ExecutionObject> {
    let executionId: string | null = null;
    let gaveUp = false;
    const cancel = (id: string) => void this.executions.requestCancel(id).catch(() => undefined);
    const consume = (async () => {
      for await (const event of this.executions.start(tenant, containerId, { code, timeout_ms: timeoutMs })) {
        if (event.type === 'created') {
          executionId = event.execution.id;
          if (gaveUp) return cancel(executionId); // ends the subscription
        }
        if (event.type === 'done') return event.execution;
      }
      return undefined;
    })();
    let onAbort: () => void = () => undefined;
    const aborted = new Promise<undefined>((resolve) => {
      onAbort = () => {
        // Whoever gave up on the response gave up on its code too: the running cell is interrupted.
        gaveUp = true;
        if (executionId) cancel(executionId);
        resolve(undefined);
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const execution = await Promise.race([consume, aborted]);
      if (!execution) throw new Error(signal.aborted ? 'the response was cancelled' : 'the execution ended without a result');
      return execution;
    } finally {
      signal.removeEventListener('abort', onAbort);
      consume.catch(() => undefined);
    }
  }
}
