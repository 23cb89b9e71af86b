import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ScriptedUpstreamClient, eventually, launchChromium, pythonCall as python } from '@cibox/testing';
import { ageContainer, baseUrl, client, raw } from './support/clients';

/**
 * The playground page (apps/playground, served by the api at `/`) driven in Debian's Chromium
 * through playwright-core, against the real stack and the scripted upstream. One browser and one
 * page for the file: the tests follow one conversation, in order, as a person would.
 */
const SCREENSHOTS = path.resolve(__dirname, '..', '..', '..', '.data', 'screenshots');
const upstream = new ScriptedUpstreamClient();
const CHART = [
  'import matplotlib.pyplot as plt',
  'x = 41',
  'plt.figure(figsize=(6.4, 4.8))',
  'plt.plot([1, 2, 3, 4], [1, 4, 9, 16], marker="o")',
  'plt.title("Squares")',
  'plt.savefig("/mnt/data/squares.png")',
  'print("saved squares.png")',
  'plt.show()',
].join('\n');
const CSV = 'city,temp\nOslo,3\nRome,17\n';

describe('the playground page', () => {
  const model = ScriptedUpstreamClient.newModel();
  const failing = ScriptedUpstreamClient.newModel();
  const errors: string[] = [];
  let browser: Browser;
  let page: Page;

  const shot = (name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
  const answers = () => page.locator('[data-testid=answer]');
  const send = async (prompt: string) => {
    await page.getByLabel('Message').fill(prompt);
    await page.getByLabel('Message').press('Enter');
  };
  /** Waits until the newest assistant turn has ended, and returns its status. */
  const lastTurnStatus = async () => {
    const turn = page.locator('article.turn.assistant').last();
    await eventually(async () => (await turn.getAttribute('data-status')) !== 'in_progress', { timeoutMs: 60_000 });
    return turn.getAttribute('data-status');
  };

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    await upstream.script(model, [
      // Slow enough to watch the code arrive in pieces.
      { tool_calls: [python(CHART)], chunk_delay_ms: 25 },
      { content: 'Here is the chart: sandbox:/mnt/data/squares.png' },
      { tool_calls: [python('print(x + 1)')] },
      { content: 'x + 1 is 42.' },
      { tool_calls: [python("import pandas as pd\nprint(pd.read_csv('/mnt/data/temps.csv').temp.sum())")] },
      { content: 'The temperatures add up to **20**:\n\n| city | temp |\n|---|---:|\n| Oslo | 3 |\n| Rome | 17 |\n\nRead with `pd.read_csv`.' },
    ]);
    // The upstream refuses the api's key: the response fails, and the page says why.
    await upstream.script(failing, [{ status: 401, error_message: 'Incorrect API key provided.' }]);
    browser = await launchChromium((line) => process.stdout.write(`[chromium] ${line}\n`));
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
    });
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('is served at / with its assets and a content policy, while the API and its root aliases still answer', async () => {
    const res = await fetch(`${baseUrl()}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    const script = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${baseUrl()}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect((await raw('GET', '/models')).status).toBe(200);
    expect((await raw('GET', '/v1/models')).status).toBe(200);
    expect((await fetch(`${baseUrl()}/assets/nothing-here.js`)).status).toBe(404);
  });

  it('says in words that a wrong API key was refused', async () => {
    await page.goto(`${baseUrl()}/`);
    await page.getByLabel('API key', { exact: true }).fill('sk-not-a-key');
    await page.getByLabel('API key', { exact: true }).press('Tab');
    await page.getByRole('alert').filter({ hasText: 'The API key was refused (401)' }).waitFor();
    await shot('01-bad-key');
  });

  it('lists the models for a good key, and keeps the key in this browser across a reload', async () => {
    await page.getByLabel('API key', { exact: true }).fill(process.env.CIBOX_KEY_A!);
    await page.getByLabel('API key', { exact: true }).press('Tab');
    await page.getByRole('option', { name: model, exact: true }).waitFor({ state: 'attached' });
    await page.getByLabel('Model', { exact: true }).selectOption(model);
    expect(await page.evaluate(() => (globalThis as any).localStorage.getItem('cibox.playground.apiKey'))).toBe(process.env.CIBOX_KEY_A);
    await page.reload();
    await page.getByRole('option', { name: model, exact: true }).waitFor({ state: 'attached' });
    expect(await page.getByLabel('Model', { exact: true }).inputValue()).toBe(model);
    expect(await page.getByRole('alert').count()).toBe(0);
  });

  it('streams the code as the model writes it, then its output and an inline figure that loaded, with nothing moving', async () => {
    // Records, every frame, where the composer and the side panel are: streaming must not move them.
    // (Functions given to evaluate run in the page; the suite is compiled without DOM types.)
    await page.evaluate(() => {
      const w = globalThis as any;
      w.__tops = [];
      w.__stop = false;
      const sample = () => {
        const at = (sel: string) => Math.round(w.document.querySelector(sel).getBoundingClientRect().top);
        w.__tops.push([at('#panel-chat .composer'), at('.panel')]);
        if (!w.__stop) w.requestAnimationFrame(sample);
      };
      w.requestAnimationFrame(sample);
    });
    await send('Plot the squares of 1 to 4');
    const code = page.locator('[data-testid=code]').first();
    // Part of the code is shown while the rest is still being written.
    await page.waitForFunction(() => {
      const text: string = (globalThis as any).document.querySelector('[data-testid=code]')?.textContent ?? '';
      return text.includes('x = 41') && !text.includes('plt.show()');
    });
    expect(await page.locator('details.code-call').first().getAttribute('data-status')).toBe('in_progress');
    await shot('02-code-streaming');
    await page.locator('[data-testid=logs]').filter({ hasText: 'saved squares.png' }).waitFor();
    expect(await code.textContent()).toBe(CHART);
    const figure = page.locator('[data-testid=figure]').first();
    await figure.scrollIntoViewIfNeeded();
    await page.waitForFunction(() => {
      const img = (globalThis as any).document.querySelector('[data-testid=figure]');
      return !!img && img.complete && img.naturalWidth > 0;
    });
    expect(await lastTurnStatus()).toBe('completed');
    const tops: number[][] = await page.evaluate(() => {
      const w = globalThis as any;
      w.__stop = true;
      return w.__tops;
    });
    expect(tops.length).toBeGreaterThan(10);
    expect(new Set(tops.map((t) => t.join(','))).size).toBe(1);
    await shot('03-output-and-figure');
  });

  it("renders the answer's file citation as a link whose download is the file", async () => {
    await answers().first().waitFor();
    expect(await answers().first().textContent()).toBe('Here is the chart: squares.png');
    const link = answers().first().getByRole('link', { name: 'squares.png' });
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe('squares.png');
    const bytes = readFileSync(await download.path());
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
    await shot('04-answer-with-citation');
  });

  it('continues the conversation in the same container: a follow-up uses a variable of the first turn', async () => {
    await send('And x + 1?');
    expect(await lastTurnStatus()).toBe('completed');
    await page.locator('[data-testid=logs]').filter({ hasText: /^42\n?$/ }).waitFor();
    expect(await answers().last().textContent()).toBe('x + 1 is 42.');
    // The model was sent the whole conversation: previous_response_id carried it.
    const requests = await upstream.requests(model);
    expect(requests[2]!.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant', 'user']);
  });

  it('attaches a CSV, uploaded through the Files API, that the code reads; the answer is rendered as Markdown', async () => {
    await page.getByTestId('attach-input').setInputFiles({ name: 'temps.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) });
    await page.locator('.composer .chip').filter({ hasText: 'temps.csv' }).waitFor();
    await send('Sum the temperatures in the file');
    expect(await lastTurnStatus()).toBe('completed');
    await page.locator('[data-testid=logs]').filter({ hasText: /^20\n?$/ }).waitFor();
    expect(JSON.stringify((await upstream.requests(model))[4]!.messages)).toContain('/mnt/data/temps.csv');
    const uploaded = [];
    for await (const f of client().files.list({ purpose: 'user_data' })) if (f.filename === 'temps.csv') uploaded.push(f);
    expect(uploaded.length).toBeGreaterThan(0);
    // The model's Markdown becomes elements (never HTML): bold, a table, inline code.
    const answer = answers().last();
    expect(await answer.locator('strong').textContent()).toBe('20');
    expect(await answer.locator('table tbody tr').allTextContents()).toEqual(['Oslo3', 'Rome17']);
    expect(await answer.locator('code').textContent()).toBe('pd.read_csv');
    await shot('05-attached-csv');
  });

  it("shows the conversation's container: memory tier, expiry and files, which it can delete", async () => {
    const facts = page.getByTestId('container-facts');
    await eventually(async () => /Memory\s*1g/.test((await facts.textContent()) ?? ''), { timeoutMs: 10_000 });
    expect(await facts.textContent()).toMatch(/Expires.*\(in (19|20) min, 20 min after last use\)/);
    const files = page.getByTestId('container-files');
    await files.getByText('temps.csv').waitFor();
    await files.getByText('squares.png').waitFor();
    await page.getByRole('button', { name: 'Delete temps.csv' }).click();
    await files.getByText('temps.csv').waitFor({ state: 'detached' });
    const containerId = (await facts.locator('dd.mono').textContent())!;
    const left = [];
    for await (const f of client().containers.files.list(containerId)) left.push(f.path);
    expect(left).not.toContain('/mnt/data/temps.csv');
    expect(left).toContain('/mnt/data/squares.png');
  });

  it('runs a cell in the console, in the same container, streaming its output', async () => {
    await page.getByRole('tab', { name: 'Console' }).focus();
    await page.keyboard.press('Enter');
    const code = ['import time', 'for i in range(3):', '    print(f"tick {i}: x is {x}", flush=True)', '    time.sleep(0.4)', 'x * 2'].join('\n');
    await page.getByLabel('Python code').fill(code);
    await page.getByLabel('Python code').press('Control+Enter');
    const cell = page.getByTestId('cell').last();
    // The first line shows while the cell still runs.
    await cell.getByTestId('stdout').filter({ hasText: 'tick 0: x is 41' }).waitFor();
    expect(await cell.getAttribute('data-status')).toBe('running');
    await eventually(async () => (await cell.getAttribute('data-status')) === 'completed', { timeoutMs: 30_000 });
    expect(await cell.getByTestId('stdout').textContent()).toBe('tick 0: x is 41\ntick 1: x is 41\ntick 2: x is 41\n');
    expect(await cell.getByLabel('Result').textContent()).toBe('82');
    await shot('06-console');
  });

  it('says in words that the container expired', async () => {
    const containerId = (await page.getByTestId('container-facts').locator('dd.mono').textContent())!;
    await ageContainer(containerId, 21 * 60);
    await page.getByLabel('Python code').fill('print(1)');
    await page.getByRole('button', { name: 'Run' }).click();
    await page.getByRole('alert').filter({ hasText: 'This container has expired' }).waitFor();
    await shot('07-expired');
  });

  it('says in words that the model upstream failed', async () => {
    await page.getByRole('button', { name: 'New conversation' }).click();
    await page.getByRole('tab', { name: 'Chat' }).click();
    await page.getByLabel('Model', { exact: true }).selectOption(failing);
    await send('Hello?');
    expect(await lastTurnStatus()).toBe('failed');
    await page.getByRole('alert').filter({ hasText: /^The response failed: The model upstream at [\d.:]+ rejected our credentials .*check MODEL_API_KEY\.$/ }).waitFor();
    await shot('08-upstream-failed');
  });

  it('fits a narrow screen without sideways scrolling, and raised no script errors', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const { scrollWidth, clientWidth } = await page.evaluate(() => {
      const root = (globalThis as any).document.documentElement;
      return { scrollWidth: root.scrollWidth as number, clientWidth: root.clientWidth as number };
    });
    expect(scrollWidth).toBeLessThanOrEqual(clientWidth);
    await shot('09-narrow');
    expect(errors.filter((e) => !/status of (400|401|404|502)/.test(e))).toEqual([]);
  });
});
