import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Store, storage } from 'nestjs-pino/storage';
import { LogContext, logFieldsOf } from './log-context';

/** A pino logger whose lines land in `lines`, parsed. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ base: null, timestamp: false }, sink) };
}

const current = () => storage.getStore()!.logger;

describe('LogContext', () => {
  it('gives a job a scope whose lines carry its ids, those it has', async () => {
    const { lines, logger } = capture();
    const log = new LogContext(logger);
    await log.run({ executionId: 'exec_1', responseId: undefined }, async () => {
      await Promise.resolve();
      current().info('inside');
      expect(log.current()).toEqual({ executionId: 'exec_1' });
    });
    expect(lines).toEqual([{ level: 30, executionId: 'exec_1', msg: 'inside' }]);
    expect(log.current()).toEqual({});
  });

  it('adds ids to the current scope and its completion line, keeping the first of each', () => {
    const { lines, logger } = capture();
    const log = new LogContext(logger);
    const request = logger.child({ requestId: 'req_1' });
    const completion = request.child({});
    storage.run(new Store(request, completion), () => {
      log.assign({ tenant: 'tn_a', executionId: 'exec_1' });
      log.assign({ executionId: 'exec_2', responseId: 'resp_1' });
      current().info('work');
      completion.info('request completed');
      expect(log.current()).toEqual({ requestId: 'req_1', tenant: 'tn_a', executionId: 'exec_1', responseId: 'resp_1' });
    });
    const ids = { requestId: 'req_1', tenant: 'tn_a', executionId: 'exec_1', responseId: 'resp_1' };
    expect(lines).toEqual([
      { level: 30, ...ids, msg: 'work' },
      { level: 30, ...ids, msg: 'request completed' },
    ]);
  });

  it('does nothing outside a request or job', () => {
    const { lines, logger } = capture();
    new LogContext(logger).assign({ tenant: 'tn_a' });
    expect(lines).toEqual([]);
    expect(storage.getStore()).toBeUndefined();
  });

  it('reads the ids among a job payload', () => {
    expect(logFieldsOf({ containerId: 'cntr_1', tenant: 'tn_a', code: 'x', timeoutMs: 5, responseId: undefined })).toEqual({ containerId: 'cntr_1', tenant: 'tn_a' });
  });
});
