import { DEMAND_WINDOW_MS, WarmPoolDemand } from './warm-pool-demand';

describe('WarmPoolDemand', () => {
  it('targets the takes of about the last window, within [min, max]', () => {
    const demand = new WarmPoolDemand(2, 8, () => 0);
    expect(demand.target()).toBe(2);
    for (let i = 0; i < 5; i++) demand.record();
    expect(demand.target()).toBe(5);
    for (let i = 0; i < 10; i++) demand.record();
    expect(demand.target()).toBe(8);
  });

  it('lets old takes weigh less: a count falls by e every DEMAND_WINDOW_MS', () => {
    let now = 0;
    const demand = new WarmPoolDemand(1, 20, () => now);
    for (let i = 0; i < 15; i++) demand.record();
    now = DEMAND_WINDOW_MS;
    expect(demand.target()).toBe(6); // 15 / e = 5.5
    demand.record();
    expect(demand.target()).toBe(7); // 6.5, and counting on from there
    now = 4 * DEMAND_WINDOW_MS;
    expect(demand.target()).toBe(1); // 6.5 / e³ = 0.3: the minimum
  });
});
