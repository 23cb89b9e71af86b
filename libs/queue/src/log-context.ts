import type { Logger } from 'pino';
// nestjs-pino keeps each request's logger in this store; a job gets one of its own the same way
// (the way its maintainers point to for work outside HTTP: iamolegga/nestjs-pino#803).
import { Store, storage } from 'nestjs-pino/storage';

/** Ids that tie log lines together: a grep for any of them follows a request through the api and the workers. */
export interface LogFields {
  requestId?: string;
  tenant?: string;
  containerId?: string;
  executionId?: string;
  responseId?: string;
  batchId?: string;
  workerId?: string;
}

const KEYS: readonly (keyof LogFields)[] = ['requestId', 'tenant', 'containerId', 'executionId', 'responseId', 'batchId', 'workerId'];

const known = (from: object, keep: (key: keyof LogFields) => boolean): LogFields => {
  const values = from as Record<string, unknown>;
  return Object.fromEntries(KEYS.filter((k) => typeof values[k] === 'string' && keep(k)).map((k) => [k, values[k]]));
};

/** The ids among an object's fields (a job's data, say), for a log scope. */
export const logFieldsOf = (from: object): LogFields => known(from, () => true);

/**
 * The ids of the request or job being served, held by nestjs-pino's scoped logger (an
 * AsyncLocalStorage): every line logged in the scope, through Nest's Logger or PinoLogger, carries
 * them, and so does the api's `request completed` line (LoggerModule's `assignResponse`).
 */
export class LogContext {
  constructor(private readonly root: Logger) {}

  /**
   * Adds ids to the lines of the current request or job. An id already set stays: a request's line
   * names the first container, execution or response it dealt with. Outside both, nothing happens.
   */
  assign(fields: LogFields): void {
    const store = storage.getStore();
    if (!store) return;
    const bound = store.logger.bindings();
    const added = known(fields, (k) => bound[k] === undefined);
    if (Object.keys(added).length === 0) return;
    store.logger = store.logger.child(added);
    store.responseLogger?.setBindings(added);
  }

  /** Runs a job's work in a log scope of its own, whose lines carry `fields`. */
  run<T>(fields: LogFields, fn: () => T): T {
    return storage.run(new Store(this.root.child(logFieldsOf(fields))), fn);
  }

  /** The ids of the current request or job: what a job it queues carries on to its processor. */
  current(): LogFields {
    return logFieldsOf(storage.getStore()?.logger.bindings() ?? {});
  }
}
