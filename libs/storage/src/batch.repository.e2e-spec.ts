import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { BatchRepository, newBatchRecord, type BatchRecord } from './batch.repository';
import { REDIS_SCRIPTS } from './scripts';

/** The batch state scripts, against the suite's real Redis. */
describe('BatchRepository', () => {
  let redis: Redis;
  let repo: BatchRepository;
  beforeAll(() => {
    redis = new Redis(process.env.CIBOX_REDIS_URL!, { scripts: REDIS_SCRIPTS });
    repo = new BatchRepository(redis);
  });
  afterAll(() => redis.quit());

  const record = (): BatchRecord =>
    newBatchRecord({
      id: `batch_${randomBytes(6).toString('hex')}`,
      tenant: 'tn_a',
      origin: 'http://127.0.0.1:8080',
      endpoint: '/v1/responses',
      input_file_id: 'file-x',
      created_at: 1_700_000_000,
      expires_at: 1_700_086_400,
      metadata: { 'ünï/cödé': 'a "quoted" value\nwith a newline', empty: '' },
    });

  it('changes state only from the states it is given, and keeps every other field as it was', async () => {
    const r = record();
    await repo.insert(r);
    expect(await repo.transition(r.id, ['in_progress'], { status: 'cancelling', cancelling_at: 5 })).toBeNull();
    const moved = await repo.transition(r.id, ['validating', 'in_progress'], { status: 'in_progress', in_progress_at: 3, model: 'gpt-4o' });
    expect(moved).toEqual({ ...r, status: 'in_progress', in_progress_at: 3, model: 'gpt-4o' });
    const failed = await repo.transition(r.id, ['in_progress'], { status: 'failed', errors: [{ code: 'empty_file', message: 'no lines', param: null, line: null }] });
    expect(failed!.errors).toEqual([{ code: 'empty_file', message: 'no lines', param: null, line: null }]);
    expect(await repo.get('tn_a', r.id)).toEqual(failed);
    expect(await repo.get('tn_b', r.id)).toBeNull();
    expect(await repo.transition('batch_missing', ['validating'], { status: 'failed' })).toBeNull();
  });

  it('records each line once, summing its count and usage', async () => {
    const { id } = record();
    const usage = { input_tokens: 10, input_tokens_details: { cached_tokens: 2 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 1 }, total_tokens: 15 };
    await repo.setTotal(id, 4);
    expect(await repo.recordLine(id, 1, { file: 'output', json: '{"n":1}', count: 'completed', usage })).toBe(true);
    expect(await repo.recordLine(id, 1, { file: 'output', json: '{"n":1}', count: 'completed', usage })).toBe(false);
    expect(await repo.recordLine(id, 2, { file: 'error', json: '{"n":2}', count: 'failed', usage: null })).toBe(true);
    // Skipped (its batch was cancelled before it started): ended, with no result.
    expect(await repo.recordLine(id, 3, null)).toBe(true);
    await repo.recordInvalid(id, 4, '{"n":4}');

    const progress = await repo.progress(id);
    expect(progress.counts).toEqual({ total: 4, completed: 1, failed: 2 });
    expect(progress.usage).toEqual(usage);
    expect(progress.finished).toBe(3);
    expect(await repo.results(id, 'output', 0, 10)).toEqual(['{"n":1}']);
    expect(await repo.results(id, 'error', 0, 10)).toEqual(['{"n":2}', '{"n":4}']);
    expect(await repo.isDone(id, 3)).toBe(true);
    expect(await repo.isInvalid(id, 4)).toBe(true);
    expect(await repo.isInvalid(id, 1)).toBe(false);

    await repo.clearWork(id);
    expect((await repo.progress(id)).finished).toBe(0);
    expect(await repo.results(id, 'error', 0, 10)).toEqual([]);
    // A line that ends after its batch did is not recorded, and brings none of its keys back.
    expect(await repo.recordLine(id, 5, { file: 'output', json: '{"n":5}', count: 'completed', usage })).toBe(false);
    expect(await redis.exists(`cibox:batch-progress:${id}`, `cibox:batch-done:${id}`, `cibox:batch-output:${id}`)).toBe(0);
  });

  it('claims each custom_id once per batch', async () => {
    const a = record().id;
    const b = record().id;
    expect(await repo.claimCustomId(a, 'req-1')).toBe(true);
    expect(await repo.claimCustomId(a, 'req-1')).toBe(false);
    expect(await repo.claimCustomId(b, 'req-1')).toBe(true);
  });
});
