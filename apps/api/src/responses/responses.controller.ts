import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { InvalidRequestError, listQuerySchema, parseOrThrow } from '@cibox/contracts';
import { presentEvent, presentResponse, type ResponseEvent } from '@cibox/responses';
import { Tenant } from '../common/auth.guard';
import { requestOrigin } from '../common/request-origin';
import { ResponsesService } from './responses.service';

/** A query parameter that may repeat, sent as `include[]=a&include[]=b` or `include=a`. */
function queryList(query: Record<string, unknown>, name: string): string[] {
  const values = [query[name], query[`${name}[]`]].flat().filter((v): v is string => typeof v === 'string');
  return values;
}

function includesOutputs(query: Record<string, unknown>): boolean {
  return queryList(query, 'include').includes('code_interpreter_call.outputs');
}

const replayQuerySchema = z
  .object({
    stream: z.enum(['true', 'false']).optional(),
    starting_after: z.string().regex(/^\d+$/, 'expected an integer').transform(Number).optional(),
  })
  .passthrough();

/** Starts an SSE reply. */
function openStream(res: Response): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
}

/** A comment line every 15 s, so proxies with idle timeouts keep a quiet stream open (the SDKs ignore comments). */
function keepalive(res: Response): () => void {
  const timer = setInterval(() => {
    if (!res.destroyed) res.write(': keepalive\n\n');
  }, 15_000);
  return () => clearInterval(timer);
}

function writeEvent(res: Response, event: ResponseEvent): void {
  res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
}

/** The Responses API: the model↔code interpreter loop, as JSON or OpenAI's stream events. */
@Controller('v1/responses')
export class ResponsesController {
  constructor(private readonly responses: ResponsesService) {}

  @Post()
  async create(@Tenant() tenant: string, @Body() body: unknown, @Req() req: Request, @Res() res: Response) {
    if ((body as { background?: unknown } | null)?.background === true) return this.createBackground(tenant, body, req, res);
    // A client that goes away cancels the work: the model call and the loop stop.
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const prepared = await this.responses.prepare(tenant, body ?? {}, requestOrigin(req));
    if (prepared.request.stream) {
      openStream(res);
      const stopKeepalive = keepalive(res);
      await prepared.run((event) => writeEvent(res, presentEvent(event, prepared.includeOutputs)), abort.signal).finally(stopKeepalive);
      res.end();
      return;
    }
    const result = await prepared.run(() => undefined, abort.signal);
    if (result.failure) {
      // Code may have run: the SDKs must not retry the whole response on their own.
      res.setHeader('x-should-retry', 'false');
      throw result.failure;
    }
    res.status(200).json(presentResponse(result.response, prepared.includeOutputs));
  }

  @Get(':id')
  async retrieve(@Tenant() tenant: string, @Param('id') id: string, @Query() query: Record<string, unknown>, @Res() res: Response) {
    const { stream, starting_after } = parseOrThrow(replayQuerySchema, query);
    if (stream !== 'true') {
      res.status(200).json(await this.responses.retrieve(tenant, id, includesOutputs(query)));
      return;
    }
    await this.responses.retrieve(tenant, id, false); // a 404 before the reply is committed to a stream
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    await this.follow(res, this.responses.events(tenant, id, includesOutputs(query), starting_after, abort.signal));
  }

  /** `background: true`: queued at once; with `stream: true`, its events follow as it runs. */
  private async createBackground(tenant: string, body: unknown, req: Request, res: Response) {
    const response = await this.responses.createBackground(tenant, body, requestOrigin(req));
    if ((body as { stream?: unknown }).stream !== true) {
      res.status(200).json(response);
      return;
    }
    const include = Array.isArray((body as { include?: unknown }).include) && (body as { include: unknown[] }).include.includes('code_interpreter_call.outputs');
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    await this.follow(res, this.responses.events(tenant, response.id, include, undefined, abort.signal));
  }

  /** Streams a response's logged events until it has ended, or the client leaves. */
  private async follow(res: Response, events: AsyncGenerator<ResponseEvent>) {
    openStream(res);
    const stopKeepalive = keepalive(res);
    try {
      for await (const event of events) {
        if (res.destroyed) break;
        writeEvent(res, event);
      }
    } finally {
      stopKeepalive();
    }
    res.end();
  }

  @Get(':id/input_items')
  async inputItems(@Tenant() tenant: string, @Param('id') id: string, @Query() query: unknown) {
    const { after, limit, order } = parseOrThrow(listQuerySchema(100, 20), query);
    const items = await this.responses.inputItems(tenant, id);
    const ordered = order === 'asc' ? items : [...items].reverse();
    let start = 0;
    if (after) {
      const at = ordered.findIndex((i) => i.id === after);
      if (at === -1) throw new InvalidRequestError(`No input item with id '${after}' in this response.`, 'after');
      start = at + 1;
    }
    const data = ordered.slice(start, start + limit);
    return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: start + limit < ordered.length };
  }

  @Delete(':id')
  remove(@Tenant() tenant: string, @Param('id') id: string) {
    return this.responses.remove(tenant, id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  cancel(@Tenant() tenant: string, @Param('id') id: string) {
    return this.responses.cancel(tenant, id);
  }
}
