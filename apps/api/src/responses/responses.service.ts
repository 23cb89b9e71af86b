import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { ApiError, CONTAINER_DATA_DIR, InvalidRequestError, ModelNotConfiguredError, NotFoundError, newId, type MemoryLimit } from '@cibox/contracts';
import { LogContext, RESPONSES_QUEUE, type BackgroundResponseJob } from '@cibox/queue';
import {
  ResponseRun,
  convertInput,
  initialResponse,
  parseCreateResponse,
  presentEvent,
  presentResponse,
  type ChatMessage,
  type CreateResponseRequest,
  type InputFilesPort,
  type InputItem,
  type ResponseEvent,
  type ResponseObject,
  type ResponseRunResult,
  type SandboxPort,
  type ToolParam,
} from '@cibox/responses';
import { FileRepository, OBJECT_STORE, ResponseRepository, type ObjectStore, type StoredResponse } from '@cibox/storage';
import { ContainerFilesService } from '../containers/container-files.service';
import { ContainersService } from '../containers/containers.service';
import { WEBHOOK_EMITTER, type WebhookEmitter, type WebhookEventType } from '../common/webhook-events';
import { CodeSandbox } from './code-sandbox.service';
import { ResponseCancels } from './response-cancels.service';
import { MODEL_CLIENT, type ModelClient } from '@cibox/model';

/** Images given by file_id are inlined for the model up to this size. */
const MAX_INPUT_IMAGE_BYTES = 20 * 1024 * 1024;
/** ... and all of one request's together up to this. */
const MAX_INPUT_IMAGES_BYTES = 50 * 1024 * 1024;

/** A validated request, its conversation and its sandbox, ready to run. */
export interface PreparedResponse {
  id: string;
  tenant: string;
  request: CreateResponseRequest;
  includeOutputs: boolean;
  run: (emit: (event: ResponseEvent) => void, signal: AbortSignal) => Promise<ResponseRunResult>;
}

/** How long a running response's lease lasts past its last renewal. */
const LEASE_S = 30;

/** How often a reader following a running response looks for new events. */
const FOLLOW_POLL_MS = 50;

/** Events after which a stored response's record is saved, so a poller sees it progress. */
const PROGRESS_EVENTS: ReadonlySet<string> = new Set(['response.output_item.added', 'response.output_item.done', 'response.code_interpreter_call.interpreting']);

const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'incomplete', 'cancelled']);

/** The webhook event a background response's end announces. */
const ENDED_EVENT: Record<string, WebhookEventType> = {
  completed: 'response.completed',
  failed: 'response.failed',
  incomplete: 'response.incomplete',
  cancelled: 'response.cancelled',
};

@Injectable()
export class ResponsesService {
  private readonly logger = new Logger(ResponsesService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(MODEL_CLIENT) private readonly model: ModelClient,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    private readonly responses: ResponseRepository,
    private readonly containers: ContainersService,
    private readonly containerFiles: ContainerFilesService,
    private readonly files: FileRepository,
    private readonly sandboxes: CodeSandbox,
    private readonly cancels: ResponseCancels,
    @InjectQueue(RESPONSES_QUEUE) private readonly queue: Queue<BackgroundResponseJob>,
    private readonly log: LogContext,
    @Optional() @Inject(WEBHOOK_EMITTER) private readonly webhooks: WebhookEmitter | null,
  ) {}

  /** What can be checked of a request without side effects: a bad one is a plain 4xx, never a broken stream. */
  private async validate(tenant: string, body: unknown) {
    const request = parseCreateResponse(body);
    if (request.background && request.store === false) throw new InvalidRequestError('Background responses need store: true.', 'store');
    if (!this.model.configured()) throw new ModelNotConfiguredError();
    const previous = request.previous_response_id ? await this.previous(tenant, request.previous_response_id) : null;
    const ci = request.tools?.find((t): t is Extract<ToolParam, { type: 'code_interpreter' }> => t.type === 'code_interpreter') ?? null;
    const explicit = ci ? explicitContainer(ci) : null;
    if (explicit) await this.containers.requireActive(tenant, explicit);
    const fileIds = ci && typeof ci.container === 'object' && ci.container.type === 'auto' ? ((ci.container as { file_ids?: string[] }).file_ids ?? []) : [];
    for (const [i, fileId] of fileIds.entries()) {
      if (!(await this.files.get(tenant, fileId))) throw new InvalidRequestError(`File with id '${fileId}' not found.`, `tools.container.file_ids.${i}`, 'not_found');
    }
    return { request, previous, ci };
  }

  /**
   * Validates a request and readies its run: its sandbox, its input files placed, its conversation.
   * `opts.id` runs a response that already has one (a background response); `attempts` is told to
   * the caller on the response when it was started over.
   */
  async prepare(tenant: string, body: unknown, origin: string, opts: { id?: string; attempts?: number } = {}): Promise<PreparedResponse> {
    const { request, previous, ci } = await this.validate(tenant, body);
    const id = opts.id ?? newId('response');
    this.log.assign({ tenant, responseId: id });
    const { port: sandbox, note } = ci ? await this.sandbox(tenant, id, ci, previous, origin) : { port: null, note: null };
    const budget = { bytes: 0 };
    const input = await convertInput(request.input, sandbox ? this.inputFiles(tenant, sandbox, budget) : this.imagesOnly(tenant, budget));
    // The note goes first: after the previous transcript it could split a tool call from its answer.
    const messages: ChatMessage[] = [...(note ? [{ role: 'system' as const, content: note }] : []), ...(previous?.transcript ?? []), ...input.messages];
    const maxToolCalls = Math.min(request.max_tool_calls ?? this.config.maxToolCalls, this.config.maxToolCalls);
    const store = request.store !== false;
    const background = request.background ? { body, origin, attempts: opts.attempts ?? 1 } : undefined;

    const run = async (emit: (event: ResponseEvent) => void, signal: AbortSignal): Promise<ResponseRunResult> => {
      // Stored events go to the response's log as they happen, so a reader can follow it live; the
      // record is saved as each item starts and ends, so polling sees progress. Saves are chained:
      // an earlier one never lands after a later one.
      let logged: Promise<unknown> = Promise.resolve();
      let logFailure: unknown = null;
      let saved: Promise<unknown> = Promise.resolve();
      const save = (r: StoredResponse) =>
        (saved = saved.then(() => this.responses.save(r)).catch((err: Error) => this.logger.warn(`saving response ${id}: ${err.message}`)));
      const responseRun: ResponseRun = new ResponseRun({
        id,
        request,
        model: (req, s) => this.model.stream(req, s),
        sandbox,
        messages,
        maxToolCalls,
        signal,
        extra: background ? { attempts: background.attempts } : undefined,
        emit: (event) => {
          if (store) {
            const appended = this.responses.appendEvent(id, event);
            // Each append is handled: one Redis error must not become an unhandled rejection.
            appended.catch((err: unknown) => (logFailure ??= err));
            logged = appended;
            if (event.type === 'response.created') void this.responses.expireEvents(id).catch(() => undefined);
            if (PROGRESS_EVENTS.has(event.type)) void save(record(responseRun.snapshot, messages, null));
          }
          emit(event);
        },
      });
      const record = (response: ResponseObject, transcript: StoredResponse['transcript'], containerId: string | null): StoredResponse => ({
        tenant,
        response,
        input_items: input.items,
        transcript,
        container_id: containerId ?? previous?.container_id ?? null,
        background,
      });
      // While it runs, the response is leased: a reader that finds it unfinished and unleased knows
      // its api died (a background one is taken over by another api; a foreground one failed).
      const lease = store ? setInterval(() => void this.responses.holdLease(id, LEASE_S).catch(() => undefined), (LEASE_S * 1000) / 3) : null;
      if (store) {
        await this.responses.holdLease(id, LEASE_S);
        await save(record(responseRun.snapshot, messages, null));
      }
      let result: ResponseRunResult;
      try {
        result = await responseRun.run();
      } finally {
        if (lease) clearInterval(lease);
      }
      if (result.failure && result.failure.status >= 500) {
        const cause = (result.failure as { cause?: unknown }).cause;
        this.logger.warn(`response ${id} failed: ${cause instanceof Error ? cause.stack : result.failure.message}`);
      }
      if (store) {
        try {
          // Every event is in the log before the record says the response ended.
          await logged.catch(() => undefined);
          if (logFailure) this.logger.warn(`logging the events of ${id}: ${(logFailure as Error).message}`);
          await this.responses.expireEvents(id);
          await saved;
          await this.responses.save(record(result.response, result.transcript, result.containerId));
          await this.responses.releaseLease(id);
        } catch (err) {
          // The answer was made: it is returned even if it could not be stored.
          this.logger.error(`storing response ${id}: ${(err as Error).message}`);
        }
      }
      return result;
    };
    return { id, tenant, request, includeOutputs: request.include?.includes('code_interpreter_call.outputs') ?? false, run };
  }

  /**
   * `background: true`: stores the response `queued` and queues its run, which any api instance
   * takes (the `responses` queue); returns at once.
   */
  async createBackground(tenant: string, body: unknown, origin: string): Promise<ResponseObject> {
    const { request } = await this.validate(tenant, body);
    const id = newId('response');
    this.log.assign({ responseId: id });
    const response: ResponseObject = { ...initialResponse(id, request), status: 'queued', attempts: 0 };
    const stored: StoredResponse = { tenant, response, input_items: [], transcript: [], container_id: null, background: { body, origin, attempts: 0 } };
    await this.responses.save(stored);
    try {
      await this.queue.add('run', { responseId: id, requestId: this.log.current().requestId }, { jobId: id, removeOnComplete: true, removeOnFail: 1000 });
    } catch (err) {
      // Not queued: nothing will run it, so it must not stay `queued`.
      await this.endBackground(id, 'failed', 'The response could not be queued.').catch(() => undefined);
      throw err;
    }
    return presentResponse(response, request.include?.includes('code_interpreter_call.outputs') ?? false);
  }

  /**
   * Ends a background response that did not end on its own (cancelled before it ran, or its run
   * broke), unless it already ended; announces it.
   */
  async endBackground(id: string, status: 'failed' | 'cancelled', message?: string): Promise<void> {
    const stored = await this.responses.get(id);
    if (!stored || TERMINAL.has(stored.response.status)) return;
    const response: ResponseObject = { ...stored.response, status, ...(status === 'failed' ? { error: { code: 'server_error', message: message ?? 'The response failed.' } } : {}) };
    await this.responses.save({ ...stored, response });
    await this.announce(stored.tenant, response);
  }

  /**
   * Runs a queued background response (the processor calls it). Run again after its api died, it
   * starts over: the event log is cleared and `attempts` says so. A cancel stops it, its running
   * code included.
   */
  async runBackground(id: string): Promise<void> {
    const stored = await this.responses.get(id);
    if (!stored?.background || TERMINAL.has(stored.response.status)) return;
    const abort = new AbortController();
    const unwatch = await this.cancels.watch(id, () => abort.abort());
    try {
      if (abort.signal.aborted) return await this.endBackground(id, 'cancelled'); // cancelled before it ran
      const attempts = stored.background.attempts + 1;
      if (attempts > 1) {
        this.logger.warn(`background response ${id} is started over (attempt ${attempts}): the api running it stopped`);
        await this.responses.clearEvents(id);
      }
      let prepared: PreparedResponse;
      try {
        prepared = await this.prepare(stored.tenant, stored.background.body, stored.background.origin, { id, attempts });
      } catch (err) {
        // Valid when queued, not now (a file or container deleted meanwhile): it fails, saying why.
        const message = err instanceof ApiError ? err.message : 'The response could not be started.';
        const response: ResponseObject = { ...stored.response, status: 'failed', attempts, error: { code: 'invalid_prompt', message } };
        await this.responses.save({ ...stored, response, background: { ...stored.background, attempts } });
        await this.announce(stored.tenant, response);
        return;
      }
      const result = await prepared.run(() => undefined, abort.signal);
      await this.announce(stored.tenant, result.response);
    } catch (err) {
      this.logger.error(`background response ${id}: ${(err as Error).stack ?? String(err)}`);
      await this.endBackground(id, 'failed', 'The response failed: an internal error occurred.').catch(() => undefined);
    } finally {
      unwatch();
    }
  }

  /**
   * Cancels a background response: one still queued ends `cancelled` at once; a running one is
   * stopped (its running code interrupted) and returned once it has. Harmless on one that ended.
   */
  async cancel(tenant: string, id: string): Promise<ResponseObject> {
    const stored = await this.find(tenant, id);
    if (!stored.background) throw new InvalidRequestError('Only responses created with background=true can be cancelled.', null, 'not_cancellable');
    if (TERMINAL.has(stored.response.status)) return presentResponse(stored.response, false);
    await this.responses.requestCancel(id);
    if (stored.response.status === 'queued') {
      const response: ResponseObject = { ...stored.response, status: 'cancelled' };
      await this.responses.save({ ...stored, response });
      await this.announce(tenant, response);
      return presentResponse(response, false);
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      const now = await this.responses.get(id);
      if (!now || TERMINAL.has(now.response.status) || Date.now() > deadline) return presentResponse(now?.response ?? stored.response, false);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async announce(tenant: string, response: ResponseObject): Promise<void> {
    const type = ENDED_EVENT[response.status];
    if (type && this.webhooks) await this.webhooks.emit(tenant, type, response.id).catch((err: Error) => this.logger.warn(`webhook for ${response.id}: ${err.message}`));
  }

  async retrieve(tenant: string, id: string, includeOutputs: boolean): Promise<ResponseObject> {
    return presentResponse((await this.find(tenant, id)).response, includeOutputs);
  }

  /**
   * The response's events, from the start (those numbered after `startingAfter`), live while it runs:
   * ends once the response has ended and every event was read.
   */
  async *events(tenant: string, id: string, includeOutputs: boolean, startingAfter?: number, signal?: AbortSignal): AsyncGenerator<ResponseEvent> {
    await this.find(tenant, id);
    let position = '0';
    let ended = false;
    while (!signal?.aborted) {
      const { events, next } = await this.responses.readEvents(id, position);
      position = next;
      for (const e of events) if (startingAfter === undefined || e.sequence_number > startingAfter) yield presentEvent(e, includeOutputs);
      if (events.length > 0) continue;
      // Every event is logged before the record says the response ended: once it has, what is left is read.
      if (ended) return;
      const now = await this.responses.get(id);
      const settled = now && now.tenant === tenant ? await this.settle(now) : null;
      if (!settled || TERMINAL.has(settled.response.status)) ended = true;
      else await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
    }
  }

  async inputItems(tenant: string, id: string): Promise<InputItem[]> {
    return (await this.find(tenant, id)).input_items;
  }

  async remove(tenant: string, id: string) {
    const stored = await this.find(tenant, id);
    if (!TERMINAL.has(stored.response.status)) {
      throw new InvalidRequestError(`Response '${id}' is still ${stored.response.status}; cancel it or wait for it to end before deleting it.`, null, 'response_not_finished');
    }
    await this.responses.remove(id);
    return { id, object: 'response' as const, deleted: true as const };
  }

  private async find(tenant: string, id: string): Promise<StoredResponse> {
    const stored = await this.responses.get(id);
    if (!stored || stored.tenant !== tenant) throw new NotFoundError('Response', id);
    return this.settle(stored);
  }

  /**
   * A foreground response left unfinished with no lease was abandoned by an api that died: it is
   * recorded as failed. (A background one is taken over from its queue instead.)
   */
  private async settle(stored: StoredResponse): Promise<StoredResponse> {
    if (stored.background || stored.response.status !== 'in_progress' || (await this.responses.leased(stored.response.id))) return stored;
    const response: ResponseObject = { ...stored.response, status: 'failed', error: { code: 'server_error', message: 'The api running this response stopped before it finished.' } };
    const settled = { ...stored, response };
    await this.responses.save(settled);
    return settled;
  }

  private async previous(tenant: string, id: string): Promise<StoredResponse> {
    const found = await this.responses.get(id);
    if (!found || found.tenant !== tenant) {
      throw new InvalidRequestError(`Previous response with id '${id}' not found.`, 'previous_response_id', 'previous_response_not_found');
    }
    const stored = await this.settle(found);
    if (!TERMINAL.has(stored.response.status)) {
      throw new InvalidRequestError(`Previous response with id '${id}' is still ${stored.response.status}.`, 'previous_response_id');
    }
    return stored;
  }

  /**
   * The sandbox of the code_interpreter tool: an explicit container must be the caller's and
   * running; `auto` (or none given) reuses the conversation's live container, else creates one when
   * code first runs.
   */
  private async sandbox(
    tenant: string,
    responseId: string,
    tool: Extract<ToolParam, { type: 'code_interpreter' }>,
    previous: StoredResponse | null,
    origin: string,
  ): Promise<{ port: SandboxPort; note: string | null }> {
    const given = tool.container;
    const explicit = explicitContainer(tool);
    let existing: string | null = null;
    if (explicit) {
      existing = (await this.containers.requireActive(tenant, explicit)).id;
    } else if (previous?.container_id) {
      existing = (await this.containers.requireActive(tenant, previous.container_id).catch(() => null))?.id ?? null;
    }
    const auto = given && typeof given === 'object' && given.type === 'auto' ? (given as { file_ids?: string[]; memory_limit?: MemoryLimit | null }) : null;
    // The model is told where the files the container is made with are (validate checked they exist).
    let note: string | null = null;
    if (!existing && auto?.file_ids?.length) {
      const names = await Promise.all(auto.file_ids.map(async (fileId) => (await this.files.get(tenant, fileId))?.filename));
      const paths = names.filter((n): n is string => Boolean(n)).map((n) => `${CONTAINER_DATA_DIR}/${n}`);
      if (paths.length > 0) note = `Files available to the python tool: ${paths.join(', ')}`;
    }
    const port = this.sandboxes.port(tenant, origin, this.config.sandbox.timeoutDefaultMs, async () => {
      if (existing) return existing;
      const created = await this.containers.create(tenant, { name: `Container for response ${responseId}`, file_ids: auto?.file_ids, memory_limit: auto?.memory_limit ?? undefined });
      return created.id;
    });
    return { port, note };
  }

  private inputFiles(tenant: string, sandbox: SandboxPort, budget: { bytes: number }): InputFilesPort {
    return {
      attach: async (file, param) => {
        // A bad file id is refused before a container is made for it.
        if (file.file_id && !(await this.files.get(tenant, file.file_id))) {
          throw new InvalidRequestError(`File with id '${file.file_id}' not found.`, `${param}.file_id`, 'not_found');
        }
        const containerId = await sandbox.container();
        if (file.file_id) return (await this.containerFiles.copy(tenant, containerId, file.file_id)).path;
        const filename = file.filename;
        if (!filename) throw new InvalidRequestError('An input_file with file_data needs a filename.', `${param}.filename`);
        const base64 = (file.file_data ?? '').replace(/^data:[^,]*,/, '');
        return (await this.containerFiles.write(tenant, containerId, filename, Buffer.from(base64, 'base64'), `${param}.filename`)).path;
      },
      imageUrl: (fileId, param) => this.imageDataUrl(tenant, fileId, param, budget),
    };
  }

  private imagesOnly(tenant: string, budget: { bytes: number }): InputFilesPort {
    return {
      attach: () => Promise.reject(new InvalidRequestError('input_file parts need the code_interpreter tool.', 'input')),
      imageUrl: (fileId, param) => this.imageDataUrl(tenant, fileId, param, budget),
    };
  }

  /** An image file inlined as a data URL; the images of one request share `budget`, so a request cannot fill the api's memory. */
  private async imageDataUrl(tenant: string, fileId: string, param: string, budget: { bytes: number }): Promise<string> {
    const file = await this.files.get(tenant, fileId);
    if (!file) throw new InvalidRequestError(`File with id '${fileId}' not found.`, param, 'not_found');
    if (file.bytes > MAX_INPUT_IMAGE_BYTES) throw new InvalidRequestError(`Image file '${fileId}' is larger than ${MAX_INPUT_IMAGE_BYTES} bytes.`, param);
    budget.bytes += file.bytes;
    if (budget.bytes > MAX_INPUT_IMAGES_BYTES) throw new InvalidRequestError(`The input's images by file_id add up to more than ${MAX_INPUT_IMAGES_BYTES} bytes.`, param);
    const { stream } = await this.store.get(file.object_key);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const ext = file.filename.split('.').pop()?.toLowerCase() ?? '';
    const mime = ext === 'jpg' || ext === 'jpeg' ? 'image/jpeg' : ext === 'gif' ? 'image/gif' : ext === 'webp' ? 'image/webp' : 'image/png';
    return `data:${mime};base64,${Buffer.concat(chunks).toString('base64')}`;
  }
}

/** The container a code_interpreter tool names, if it names one (not `auto`). */
function explicitContainer(tool: Extract<ToolParam, { type: 'code_interpreter' }>): string | null {
  const given = tool.container;
  if (typeof given === 'string') return given;
  return given?.type === 'existing' ? (given as { container_id: string }).container_id : null;
}
