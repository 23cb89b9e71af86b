/** Where each piece of shared state lives in Redis; only the repositories of this lib use these. */
export const stateKeys = {
  /** Sorted set: worker id → time (ms, Redis's clock) of its last heartbeat. The one liveness signal. */
  workers: 'cibox:workers',
  /**
   * Hash per worker: its caps (`max_containers`, `max_memory`, 0 for none) and `draining` ('1' or
   * '0'), written with each heartbeat, and `memory`, the bytes its containers reserve (kept by the
   * placement scripts).
   */
  worker: (workerId: string) => `cibox:worker:${workerId}`,
  /** Set when a worker is taken for dead and forgotten; its next heartbeat, should it come back, clears it. */
  workerForgotten: (workerId: string) => `cibox:worker-forgotten:${workerId}`,
  /** Hash per worker: the containers placed on it → the bytes each reserves. Its length is the count. */
  workerContainers: (workerId: string) => `cibox:worker-containers:${workerId}`,
  /** Which worker the container is placed on: it holds the container's sandbox and runs its jobs. */
  containerOwner: (containerId: string) => `cibox:container-owner:${containerId}`,
  /**
   * Set (with a ttl) when a container is placed, deleted once its record is stored: a placed
   * container with neither is one whose creation failed or that was deleted, and its place is freed.
   */
  containerPlacing: (containerId: string) => `cibox:container-placing:${containerId}`,
  /** Docker id of the sandbox the container's last execution ran in. */
  containerSandbox: (containerId: string) => `cibox:container-sandbox:${containerId}`,
  /** The installation's id, made once by the first worker: scopes its Docker sandboxes. */
  deployment: 'cibox:deployment',
  /** Sorted set per tenant and limit: entries (requests, executions) scored by when they expire (ms). */
  quota: (tenant: string, limit: string) => `cibox:quota:${tenant}:${limit}`,
  /** List, newest first: the last delivery attempts to a webhook endpoint ('operator' for WEBHOOK_URL). */
  webhookDeliveries: (endpointId: string) => `cibox:webhook-deliveries:${endpointId}`,
  /** Held by the worker moving a dead worker's queue. */
  rescue: (workerId: string) => `cibox:rescue:${workerId}`,
  /** Bumped on every change to a container's files, so a worker can skip an unchanged sync. */
  containerFilesVersion: (containerId: string) => `cibox:cfiles-version:${containerId}`,
  /** The execution object: an `in_progress` placeholder from the api, then the final one. */
  execution: (executionId: string) => `cibox:execution:${executionId}`,
  /** Set by the worker that starts an execution: a second start (after a stall) must not run it again. */
  executionStarted: (executionId: string) => `cibox:execution-started:${executionId}`,
  /** Set when an execution is cancelled, for a worker that starts it after the cancel was announced. */
  executionCancelled: (executionId: string) => `cibox:execution-cancelled:${executionId}`,
  /** Pub/sub channel on which cancels are announced to every worker; the message is the execution id. */
  executionCancels: 'cibox:execution-cancels',
  /** A stored response: the object, its input items, and the conversation a follow-up continues. */
  response: (responseId: string) => `cibox:response:${responseId}`,
  /** Redis stream: the events of a stored response, in order, appended as they happen (replay, resume). */
  responseEvents: (responseId: string) => `cibox:response-events:${responseId}`,
  /** Hash: a batch's counts and usage as its lines end, and where its runner is in the input file. */
  batchProgress: (batchId: string) => `cibox:batch-progress:${batchId}`,
  /** Bitmap by line number: lines of a batch that ended (ran, or were skipped), each recorded once. */
  batchDone: (batchId: string) => `cibox:batch-done:${batchId}`,
  /** Bitmap by line number: lines of a batch that failed validation, never to be run. */
  batchInvalid: (batchId: string) => `cibox:batch-invalid:${batchId}`,
  /** Set: the custom_ids a batch's valid lines claimed (a second claim is a duplicate). */
  batchCustomIds: (batchId: string) => `cibox:batch-custom-ids:${batchId}`,
  /** List: a batch's result lines (JSON) for its output or error file, until the file is written. */
  batchResults: (batchId: string, file: 'output' | 'error') => `cibox:batch-${file}:${batchId}`,
  /** Held (and renewed) by the api running a stored response: without it, an unfinished foreground response was abandoned. */
  responseLease: (responseId: string) => `cibox:response-lease:${responseId}`,
  /** Set when a background response is cancelled, for the processor that starts it after the announce. */
  responseCancelled: (responseId: string) => `cibox:response-cancelled:${responseId}`,
  /** Pub/sub channel on which response cancels are announced to every api; the message is the id. */
  responseCancels: 'cibox:response-cancels',
};
