import { Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { createExecutionSchema, parseOrThrow, type ExecutionObject } from '@cibox/contracts';
import { Tenant } from '../common/auth.guard';
import { ExecutionsService } from './executions.service';

/** Our extension (OpenAI has no such route): run code in a container, as JSON or an SSE stream. */
@Controller('v1/containers/:id/executions')
export class ExecutionsController {
  constructor(private readonly executions: ExecutionsService) {}

  @Post()
  async create(@Tenant() tenant: string, @Param('id') id: string, @Body() body: unknown, @Req() req: Request, @Res() res: Response) {
    const request = parseOrThrow(createExecutionSchema, body ?? {});
    const events = this.executions.start(tenant, id, request);
    // Pull the first event (`created`, once queued) before answering, so a bad container is a JSON
    // error, not a broken stream.
    const first = await events.next();
    if (first.value?.type === 'created') res.setHeader('x-execution-id', first.value.execution.id);
    if (!request.stream) {
      let event = first.value;
      while (event && event.type !== 'done') event = (await events.next()).value;
      void events.return(undefined); // ends the subscription
      res.status(200).json((event as { execution: ExecutionObject }).execution);
      return;
    }
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Connection', 'keep-alive');
    res.flushHeaders();
    req.on('close', () => void events.return(undefined));
    for (let step = first; !step.done; step = await events.next()) {
      res.write(`event: ${step.value.type}\ndata: ${JSON.stringify(step.value)}\n\n`);
    }
    res.end();
  }

  /** Our extension: interrupts a running execution, which then ends `cancelled`. */
  @Post(':executionId/cancel')
  @HttpCode(200)
  cancel(@Tenant() tenant: string, @Param('id') id: string, @Param('executionId') executionId: string) {
    return this.executions.cancel(tenant, id, executionId);
  }

  @Get(':executionId')
  retrieve(@Tenant() tenant: string, @Param('id') id: string, @Param('executionId') executionId: string) {
    return this.executions.retrieve(tenant, id, executionId);
  }
}
