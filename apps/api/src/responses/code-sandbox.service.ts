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

  /** Runs code through the execution queue and resolves with the finished execution. */
  private async execute(tenant: string, containerId: string, code: string, timeoutMs: number, signal: AbortSignal): Promise<ExecutionObject> {
    const events = this.executions.start(tenant, containerId, { code, timeout_ms: timeoutMs });
    const stop = () => void events.return(undefined);
    signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const event of events) if (event.type === 'done') return event.execution;
      throw new Error('the execution ended without a result');
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }
}
