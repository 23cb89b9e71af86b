import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiError, RateLimitError, type OpenAIErrorBody } from '@cibox/contracts';

/** Maps every error to OpenAI's envelope; unknown errors become a logged 500 with no details leaked. */
@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiErrorFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request & { id?: string }>();
    const { status, body } = toErrorResponse(exception);
    if (status >= 500) this.logger.error({ err: exception, reqId: req.id }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    if (exception instanceof RateLimitError) res.set(exception.headers);
    res.status(status).json(body);
  }
}

export function toErrorResponse(exception: unknown): { status: number; body: OpenAIErrorBody } {
  if (exception instanceof ApiError) return { status: exception.status, body: exception.toBody() };
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const message = status === 404 ? 'Unknown request URL.' : exception.message;
    return { status, body: { error: { message, type: 'invalid_request_error', param: null, code: status === 404 ? 'unknown_url' : null } } };
  }
  const bodyParserError = exception as { type?: string; status?: number; message?: string };
  if (bodyParserError?.type === 'entity.parse.failed') {
    return { status: 400, body: { error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error', param: null, code: 'invalid_json' } } };
  }
  if (bodyParserError?.type === 'entity.too.large') {
    return { status: 413, body: { error: { message: 'Request body too large.', type: 'invalid_request_error', param: null, code: 'request_too_large' } } };
  }
  if (typeof bodyParserError?.status === 'number' && bodyParserError.status >= 400 && bodyParserError.status < 500) {
    return { status: bodyParserError.status, body: { error: { message: bodyParserError.message ?? 'Bad request.', type: 'invalid_request_error', param: null, code: null } } };
  }
  return { status: 500, body: { error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } } };
}
