import { Logger } from '@nestjs/common';
import { loadConfig } from '@cibox/config';
import { SandboxEngineError } from '@cibox/sandbox';
import { FakeSandboxDriver } from '@cibox/testing';
import { SandboxEngine } from './sandbox-engine.service';

beforeAll(() => Logger.overrideLogger(false));

describe('SandboxEngine', () => {
  const config = loadConfig({ WORKER_ID: 'w-test' });

  it('fails the start when the engine cannot run sandboxes', async () => {
    const driver = new FakeSandboxDriver();
    driver.engineError = new SandboxEngineError('the sandbox image x is not on the Docker engine');
    await expect(new SandboxEngine(config, driver).onModuleInit()).rejects.toThrow('the sandbox image x is not on the Docker engine');
  });

  it('reports the engine checked at start, then as healthy or not at each check', async () => {
    const driver = new FakeSandboxDriver();
    const engine = new SandboxEngine(config, driver);
    await engine.onModuleInit();
    expect(engine.info).toEqual(driver.engine);
    expect(await engine.health()).toEqual({ status: 'ok', engine: driver.engine });
    driver.engineError = new SandboxEngineError('cannot reach the Docker engine');
    expect(await engine.health()).toEqual({ status: 'unavailable', engine: driver.engine, error: 'cannot reach the Docker engine' });
  });
});
