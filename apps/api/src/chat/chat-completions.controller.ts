import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Readable } from 'node:stream';
import { ModelNotConfiguredError } from '@cibox/contracts';
import { Tenant } from '../common/auth.guard';
import { requestOrigin } from '../common/request-origin';
import { ChatCompletionsService, offersCodeInterpreter, parseProxiedChat } from './chat-completions.service';
import { Inject } from '@nestjs/common';
import { MODEL_CLIENT, type ModelClient } from '@cibox/model';

/**
 * Chat Completions. With the code_interpreter tool, we run the tool loop and answer with the
 * final message (and our `code_interpreter` extension field); without it, the request goes to the
 * model upstream unchanged and its reply comes back as it is, streamed or not.
 */
@Controller('v1/chat/completions')
export class ChatCompletionsController {
  constructor(
    private readonly chat: ChatCompletionsService,
    @Inject(MODEL_CLIENT) private readonly model: ModelClient,
  ) {}

  @Post()
  @HttpCode(200)
  async create(@Tenant() tenant: string, @Body() body: unknown, @Req() req: Request, @Res() res: Response) {
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    if (!offersCodeInterpreter(body)) {
      if (!this.model.configured()) throw new ModelNotConfiguredError();
      const upstream = await this.model.proxy(parseProxiedChat(body), abort.signal);
      res.status(upstream.status);
      const type = upstream.headers.get('content-type');
      if (type) res.setHeader('Content-Type', type);
      if (!upstream.body) return void res.end();
      Readable.fromWeb(upstream.body as never).on('error', () => res.destroy()).pipe(res);
      return;
    }
    const request = this.chat.validate(body);
    if (!request.stream) {
      const completion = await this.chat.complete(tenant, request, requestOrigin(req), { chunk: () => undefined }, abort.signal);
      res.status(200).json(completion);
      return;
    }
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    res.flushHeaders();
    try {
      await this.chat.complete(tenant, request, requestOrigin(req), { chunk: (c) => res.write(`data: ${JSON.stringify(c)}\n\n`) }, abort.signal);
    } catch (err) {
      // Headers are sent: the error goes in the stream, as OpenAI's does.
      const e = err as { status?: number; message?: string; type?: string; code?: string };
      res.write(`data: ${JSON.stringify({ error: { message: e.message ?? 'internal error', type: e.type ?? 'server_error', param: null, code: e.code ?? null } })}\n\n`);
    }
    res.write('data: [DONE]\n\n');
    res.end();
  }
}
