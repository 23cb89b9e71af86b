import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Browser } from 'playwright-core';
import { eventually, launchChromium, startSuiteStack, type Stack } from '@cibox/testing';
import { expectOpenAIError, raw } from './support/clients';

/** The queue dashboard (bull-board at /admin/queues) on a stack of its own, with ADMIN_KEY set. */
describe('the queue dashboard', () => {
  const adminKey = `admin-${randomBytes(12).toString('hex')}`;
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  let stack: Stack;
  let tenantKey: string;

  beforeAll(async () => {
    const started = await startSuiteStack('dashboard', { env: { ADMIN_KEY: adminKey } });
    stack = started.stack;
    tenantKey = started.key;
  }, 180_000);
  afterAll(() => stack?.stop(), 60_000);

  const admin = (path: string, init: { method?: string; authorization?: string | null; headers?: Record<string, string> } = {}) =>
    fetch(`${stack.baseUrl}/admin/queues${path}`, {
      method: init.method ?? 'GET',
      headers: { ...(init.authorization === null ? {} : { authorization: init.authorization ?? `Bearer ${adminKey}` }), ...init.headers },
    });
  const queueNames = async () => {
    const res = await admin('/api/queues');
    expect(res.status).toBe(200);
    return ((await res.json()) as { queues: { name: string }[] }).queues.map((q) => q.name);
  };

  it('is not served at all where ADMIN_KEY is unset', async () => {
    // The suite's shared stack runs without ADMIN_KEY.
    for (const key of [null, process.env.CIBOX_KEY_A!]) {
      const res = await raw('GET', '/admin/queues', { key });
      expect(res.status).toBe(404);
      expectOpenAIError(res.json);
    }
    expect((await raw('GET', '/admin/queues/api/queues', { key: null })).status).toBe(404);
  });

  it.each([
    ['no key', null],
    ['a wrong bearer key', `Bearer ${adminKey}x`],
    ["a tenant's key", 'tenant'],
    ['a wrong basic-auth password', basic('admin', 'not-the-admin-key')],
    ["a tenant's key as the basic-auth password", 'tenant-basic'],
    ['a malformed basic credential', 'Basic !!!'],
  ])('refuses %s with 401 and a sign-in challenge, page and API alike', async (_name, authorization) => {
    const header = authorization === 'tenant' ? `Bearer ${tenantKey}` : authorization === 'tenant-basic' ? basic('admin', tenantKey) : authorization;
    for (const path of ['', '/', '/api/queues', '/static/images/logo.svg']) {
      const res = await admin(path, { authorization: header });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="cibox admin"/);
      const body = (await res.json()) as { error: { code: string } };
      expectOpenAIError(body, null);
      expect(body.error.code).toBe('invalid_api_key');
    }
  });

  it('opens to no path trick without the key: case, dot segments, encoded or doubled slashes, HEAD and OPTIONS', async () => {
    // Sent byte for byte (fetch would normalize the path): each is refused, or is no dashboard path at all.
    const send = (method: string, target: string) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL(stack.baseUrl);
        request({ host: url.hostname, port: url.port, method, path: target }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
          .on('error', reject)
          .end();
      });
    const targets = [
      '/ADMIN/QUEUES/api/queues',
      '/admin/queues/../admin/queues/api/queues',
      '/admin/x/../queues/api/queues',
      '/admin/%71ueues/api/queues',
      '/admin%2Fqueues/api/queues',
      '//admin/queues/api/queues',
      '/admin/queues//api/queues',
      '/containers/../admin/queues/api/queues',
      '/v1/admin/queues/api/queues',
      `http://elsewhere.example/admin/queues/api/queues`,
      '/admin/queues/static/%2e%2e/%2e%2e/package.json',
    ];
    const answered: string[] = [];
    for (const target of targets) {
      for (const method of ['GET', 'HEAD', 'OPTIONS', 'PUT']) answered.push(`${method} ${target} ${await send(method, target)}`);
    }
    expect(answered.filter((line) => !/ (401|404)$/.test(line))).toEqual([]);
    expect(answered.filter((line) => line.endsWith(' 401'))).toHaveLength(5 * 4); // the five that reach the dashboard's path meet its gate
  });

  it('serves the page with the admin key, as a bearer token or a basic-auth password, with its own content policy', async () => {
    for (const authorization of [`Bearer ${adminKey}`, basic('admin', adminKey), basic('', adminKey)]) {
      const res = await admin('', { authorization });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('x-powered-by')).toBeNull();
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      const html = await res.text();
      expect(html).toContain('<base href="/admin/queues/"');
      const script = /src="(static\/js\/main[^"]+\.js)"/.exec(html)?.[1];
      expect(script).toBeDefined();
      const asset = await admin(`/${script}`, { authorization });
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toMatch(/javascript/);
    }
  });

  it("lists every queue: the fixed ones, the shared sandbox queue and each live worker's own, as workers come and go", async () => {
    expect(await queueNames()).toEqual(expect.arrayContaining(['responses', 'webhooks', 'batches', 'batch-lines', 'sandbox', 'sandbox-w1']));
    const joined = await stack.startWorker('w2');
    await eventually(async () => (await queueNames()).includes('sandbox-w2'), { timeoutMs: 60_000 });
    // A worker stopped with SIGTERM leaves the registry, and its queue leaves the dashboard.
    await joined.stop();
    await eventually(async () => !(await queueNames()).includes('sandbox-w2'), { timeoutMs: 30_000 });
    expect(await queueNames()).toContain('sandbox-w1');
  });

  it("takes a change from the dashboard itself, and refuses one another site's page asks for", async () => {
    const pause = (headers: Record<string, string>) => admin('/api/queues/batches/pause', { method: 'PUT', headers });
    const paused = async () => {
      const res = await admin('/api/queues');
      return ((await res.json()) as { queues: { name: string; isPaused: boolean }[] }).queues.find((q) => q.name === 'batches')!.isPaused;
    };
    const refused = await pause({ 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' });
    expect(refused.status).toBe(403);
    expectOpenAIError(await refused.json(), null);
    expect((await pause({ origin: 'https://evil.example' })).status).toBe(403);
    expect(await paused()).toBe(false);

    expect((await pause({ 'sec-fetch-site': 'same-origin', origin: stack.baseUrl })).status).toBe(200);
    expect(await paused()).toBe(true);
    expect((await admin('/api/queues/batches/resume', { method: 'PUT' })).status).toBe(200);
    expect(await paused()).toBe(false);
  });

  it('answers bad calls to its API with 4xx: an unknown queue, a malformed body', async () => {
    expect((await admin('/api/queues/no-such-queue/pause', { method: 'PUT' })).status).toBe(404);
    const res = await fetch(`${stack.baseUrl}/admin/queues/api/queues/batches/add`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: '{"name": ',
    });
    expect(res.status).toBe(400);
  });

  describe('in a browser', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium((line) => process.stdout.write(`[chromium] ${line}\n`));
    }, 600_000);
    afterAll(() => browser?.close());

    it("signs in through the browser's prompt and shows the queues, its scripts and styles allowed by its policy", async () => {
      const context = await browser.newContext({ httpCredentials: { username: 'admin', password: adminKey } });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      page.on('requestfailed', (req) => {
        if (req.url().startsWith(stack.baseUrl)) problems.push(`failed: ${req.url()}`);
      });
      page.on('response', (res) => {
        if (res.url().startsWith(stack.baseUrl) && res.status() >= 400) problems.push(`${res.status()}: ${res.url()}`);
      });
      page.on('console', (msg) => {
        // The page links a web font from Google; the policy refuses it, and the page falls back to a local font.
        if (msg.type() === 'error' && !msg.text().includes('fonts.googleapis.com')) problems.push(`console: ${msg.text()}`);
      });
      await page.goto(`${stack.baseUrl}/admin/queues`);
      for (const name of ['sandbox-w1', 'responses', 'batch-lines']) await page.getByText(name, { exact: true }).first().waitFor({ timeout: 60_000 });
      await page.getByText('sandbox-w1', { exact: true }).first().click();
      await page.waitForURL(/\/admin\/queues\/queue\/sandbox-w1/);
      await page.getByText('sandbox jobs of the containers that worker w1 owns').waitFor();
      expect(problems).toEqual([]);
      await context.close();
    });

    it('shows nothing of the board to a browser without the key', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      // Headless Chromium has no prompt to show: it ends the navigation at the challenge.
      await expect(page.goto(`${stack.baseUrl}/admin/queues`)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
      await context.close();
    });
  });
});
