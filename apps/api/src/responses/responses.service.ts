import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { InvalidRequestError, ModelNotConfiguredError, NotFoundError, newId, type MemoryLimit } from '@cibox/contracts';
import {
  ResponseRun,
  convertInput,
  parseCreateResponse,
  presentItem,
  presentResponse,
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
import { CodeSandbox } from './code-sandbox.service';
import { MODEL_CLIENT, type ModelClient } from '@cibox/model';

/** Images given by file_id are inlined for the model up to this size. */
const MAX_INPUT_IMAGE_BYTES = 20 * 1024 * 1024;

/** A validated request, its conversation and its sandbox, ready to run. */
export interface PreparedResponse {
  id: string;
  tenant: string;
  request: CreateResponseRequest;
  includeOutputs: boolean;
  run: (emit: (event: ResponseEvent) => void, signal: AbortSignal) => Promise<ResponseRunResult>;
}

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
  ) {}

  /**
   * Checks everything that can be checked before the response starts (so a bad request is a plain
   * 4xx, never a broken stream), and returns the run.
   */
  async prepare(tenant: string, body: unknown, origin: string): Promise<PreparedResponse> {
    const request = parseCreateResponse(body);
    if (!this.model.configured()) throw new ModelNotConfiguredError();
    const previous = request.previous_response_id ? await this.previous(tenant, request.previous_response_id) : null;
    const id = newId('response');
    const ci = request.tools?.find((t): t is Extract<ToolParam, { type: 'code_interpreter' }> => t.type === 'code_interpreter') ?? null;
    const sandbox = ci ? await this.sandbox(tenant, id, ci, previous, origin) : null;
    const input = await convertInput(request.input, sandbox ? this.inputFiles(tenant, sandbox) : this.imagesOnly(tenant));
    const messages = [...(previous?.transcript ?? []), ...input.messages];
    const maxToolCalls = Math.min(request.max_tool_calls ?? this.config.maxToolCalls, this.config.maxToolCalls);
    const store = request.store !== false;

    const run = async (emit: (event: ResponseEvent) => void, signal: AbortSignal): Promise<ResponseRunResult> => {
      const events: ResponseEvent[] = [];
      const responseRun = new ResponseRun({
        id,
        request,
        model: (req, s) => this.model.stream(req, s),
        sandbox,
        messages,
        maxToolCalls,
        signal,
        emit: (event) => {
          events.push(event);
          emit(event);
        },
      });
      if (store) await this.save(tenant, responseRun.snapshot, input.items, messages, previous?.container_id ?? null);
      const result = await responseRun.run();
      if (result.failure && result.failure.status >= 500) {
        const cause = (result.failure as { cause?: unknown }).cause;
        this.logger.warn(`response ${id} failed: ${cause instanceof Error ? cause.stack : result.failure.message}`);
      }
      if (store) {
        await this.save(tenant, result.response, input.items, result.transcript, result.containerId ?? previous?.container_id ?? null);
        await this.responses.appendEvents(id, events);
      }
      return result;
    };
    return { id, tenant, request, includeOutputs: request.include?.includes('code_interpreter_call.outputs') ?? false, run };
  }

  async retrieve(tenant: string, id: string, includeOutputs: boolean): Promise<ResponseObject> {
    return presentResponse((await this.find(tenant, id)).response, includeOutputs);
  }

  /** The events the response streamed, for replay; items present outputs as `include` asks. */
  async events(tenant: string, id: string, includeOutputs: boolean): Promise<ResponseEvent[]> {
    const stored = await this.find(tenant, id);
    const events = await this.responses.events(id);
    if (stored.response.status === 'in_progress') {
      throw new InvalidRequestError('This response is still in progress; replay it once it has finished.', 'stream');
    }
    return events.map((e) => {
      if ('item' in e) return { ...e, item: presentItem(e.item, includeOutputs) };
      if ('response' in e) return { ...e, response: presentResponse(e.response, includeOutputs) };
      return e;
    });
  }

  async inputItems(tenant: string, id: string): Promise<InputItem[]> {
    return (await this.find(tenant, id)).input_items;
  }

  async remove(tenant: string, id: string) {
    await this.find(tenant, id);
    await this.responses.remove(id);
    return { id, object: 'response' as const, deleted: true as const };
  }

  private async find(tenant: string, id: string): Promise<StoredResponse> {
    const stored = await this.responses.get(id);
    if (!stored || stored.tenant !== tenant) throw new NotFoundError('Response', id);
    return stored;
  }

  private async previous(tenant: string, id: string): Promise<StoredResponse> {
    const stored = await this.responses.get(id);
    if (!stored || stored.tenant !== tenant) {
      throw new InvalidRequestError(`Previous response with id '${id}' not found.`, 'previous_response_id', 'previous_response_not_found');
    }
    if (stored.response.status === 'in_progress') {
      throw new InvalidRequestError(`Previous response with id '${id}' is still in progress.`, 'previous_response_id');
    }
    return stored;
  }

  private save(tenant: string, response: ResponseObject, input_items: InputItem[], transcript: StoredResponse['transcript'], container_id: string | null) {
    return this.responses.save({ tenant, response, input_items, transcript, container_id });
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
  ): Promise<SandboxPort> {
    const given = tool.container;
    const explicit = typeof given === 'string' ? given : given?.type === 'existing' ? (given as { container_id: string }).container_id : null;
    let existing: string | null = null;
    if (explicit) {
      existing = (await this.containers.requireActive(tenant, explicit)).id;
    } else if (previous?.container_id) {
      existing = (await this.containers.requireActive(tenant, previous.container_id).catch(() => null))?.id ?? null;
    }
    const auto = given && typeof given === 'object' && given.type === 'auto' ? (given as { file_ids?: string[]; memory_limit?: MemoryLimit | null }) : null;
    if (!existing && auto?.file_ids?.length) {
      // Checked now, so a bad file id is a 400 before anything runs.
      for (const [i, fileId] of auto.file_ids.entries()) {
        if (!(await this.files.get(tenant, fileId))) throw new InvalidRequestError(`File with id '${fileId}' not found.`, `tools.container.file_ids.${i}`, 'not_found');
      }
    }
    return this.sandboxes.port(tenant, origin, this.config.sandbox.timeoutDefaultMs, async () => {
      if (existing) return existing;
      const created = await this.containers.create(tenant, { name: `Container for response ${responseId}`, file_ids: auto?.file_ids, memory_limit: auto?.memory_limit ?? undefined });
      return created.id;
    });
  }

  private inputFiles(tenant: string, sandbox: SandboxPort): InputFilesPort {
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
      imageUrl: (fileId, param) => this.imageDataUrl(tenant, fileId, param),
    };
  }

  private imagesOnly(tenant: string): InputFilesPort {
    return {
      attach: () => Promise.reject(new InvalidRequestError('input_file parts need the code_interpreter tool.', 'input')),
      imageUrl: (fileId, param) => this.imageDataUrl(tenant, fileId, param),
    };
  }

  private async imageDataUrl(tenant: string, fileId: string, param: string): Promise<string> {
    const file = await this.files.get(tenant, fileId);
    if (!file) throw new InvalidRequestError(`File with id '${fileId}' not found.`, param, 'not_found');
    if (file.bytes > MAX_INPUT_IMAGE_BYTES) throw new InvalidRequestError(`Image file '${fileId}' is larger than ${MAX_INPUT_IMAGE_BYTES} bytes.`, param);
    const { stream } = await this.store.get(file.object_key);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const ext = file.filename.split('.').pop()?.toLowerCase() ?? '';
    const mime = ext === 'jpg' || ext === 'jpeg' ? 'image/jpeg' : ext === 'gif' ? 'image/gif' : ext === 'webp' ? 'image/webp' : 'image/png';
    return `data:${mime};base64,${Buffer.concat(chunks).toString('base64')}`;
  }
}
