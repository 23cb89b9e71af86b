import { Registry } from 'prom-client';
import { QueueWaitHistogram, queueMetricLabel } from './queue-waits';
import { SHARED_SANDBOX_QUEUE, workerSandboxQueue } from './queue';

describe('queue wait metrics', () => {
  it('labels every worker queue sandbox-worker, and every other queue by its name', () => {
    expect(queueMetricLabel(workerSandboxQueue('w-123-abc'))).toBe('sandbox-worker');
    expect(queueMetricLabel(workerSandboxQueue('w2'))).toBe('sandbox-worker');
    expect(queueMetricLabel(SHARED_SANDBOX_QUEUE)).toBe('sandbox');
    expect(queueMetricLabel('batch-lines')).toBe('batch-lines');
  });

  it('keeps one series for many workers, and counts a wait the clocks made negative as 0', async () => {
    const registry = new Registry();
    const waits = new QueueWaitHistogram(registry);
    waits.observe(workerSandboxQueue('w1'), 0.2);
    waits.observe(workerSandboxQueue('w2'), 0.3);
    waits.observe('responses', -0.05);
    const text = await registry.metrics();
    expect(text).toContain('cibox_queue_wait_seconds_count{queue="sandbox-worker"} 2');
    expect(text).toContain('cibox_queue_wait_seconds_sum{queue="responses"} 0');
    expect(text).toContain('cibox_queue_wait_seconds_bucket{le="0.001",queue="responses"} 1');
    expect(text).not.toContain('w1');
  });
});
