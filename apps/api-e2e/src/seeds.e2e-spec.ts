import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { toFile } from 'openai';
import { ONE_CODE_CALL_EVENT_TYPES, ScriptedUpstreamClient, distinctRuns } from '@cibox/testing';
import { baseUrl, client } from './support/clients';

/**
 * The seeds' own examples (/work/shared/seeds, see its README), run as they are written against our
 * stack: Python through the official `openai` package (CIBOX_PYTHON), Node through the official
 * `openai` 7.x. What is changed is only where the example talks to: its base URL and key (or, for
 * `OpenAI()` with no arguments, the environment it reads them from). The scraped pages lost some
 * white space (`forfilein`, `withopen`, flattened indentation): it is put back, nothing else. The
 * model is the scripted upstream's persona, which answers any model name the examples use
 * (`openai/gpt-4o`, `gpt-4o`, `gpt-4.1`) with code chosen by the prompt's keywords.
 */

const ROOT = path.resolve(__dirname, '..', '..', '..');
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** The example's working directory, where it writes what it downloads. */
  dir: string;
}

/** Replaces each `from` (which must be there) by its `to`: the only edits an example gets. */
function substitute(source: string, pairs: [string, string][]): string {
  for (const [from, to] of pairs) {
    if (!source.includes(from)) throw new Error(`the example does not contain ${from}`);
    source = source.split(from).join(to);
  }
  return source;
}

async function runIn(dir: string, file: string, source: string, cmd: string, env: Record<string, string>): Promise<Run> {
  writeFileSync(path.join(dir, file), source);
  try {
    const { stdout, stderr } = await promisify(execFile)(cmd, [file], { cwd: dir, env: { PATH: process.env.PATH!, ...env }, timeout: 180_000, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, stdout, stderr, dir };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    // Killed (timeout) or not started: not an exit status of the example's.
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '', dir };
  }
}

/** Runs a Python example in a fresh directory; `OpenAI()` without arguments reads our stack from the environment. */
function python(source: string, env: Record<string, string> = {}): Promise<Run> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cibox-seed-'));
  dirs.push(dir);
  return runIn(dir, 'seed.py', source, process.env.CIBOX_PYTHON!, { OPENAI_API_KEY: process.env.CIBOX_KEY_A!, OPENAI_BASE_URL: `${baseUrl()}/v1`, ...env });
}

/** Runs a Node example (ES module) from inside the repository, so that `import OpenAI from 'openai'` resolves. */
function node(source: string, env: Record<string, string> = {}): Promise<Run> {
  const parent = path.join(ROOT, '.cache', 'seeds');
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(path.join(parent, 'run-'));
  dirs.push(dir);
  return runIn(dir, 'seed.mjs', source, process.execPath, env);
}

function expectSuccess(run: Run) {
  if (run.code !== 0) throw new Error(`the example exited with ${run.code}:\n${run.stderr}\n${run.stdout}`);
}

/** The gateway's address as the LiteLLM examples write it (no /v1: we serve root paths too), and their key. */
const litellm = (source: string) =>
  substitute(source, [
    ['"http://localhost:4000"', JSON.stringify(baseUrl())],
    ['"sk-1234"', JSON.stringify(process.env.CIBOX_KEY_A!)],
  ]);

const FIBONACCI = '[0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181]';

// Seed 000 also shows the LiteLLM Python SDK (`import litellm`: code_interpreter.py and
// get_file_content.py). Those call LiteLLM's own library, which talks to OpenAI itself, not to a
// gateway: they cannot run here (no litellm package, and nothing of ours in their path).
describe('seed 000 (LiteLLM docs): the AI Gateway examples with the OpenAI SDK', () => {
  it('code_interpreter_gateway.py prints a completed response: the code call, the numbers, the cited plot', async () => {
    const run = await python(
      litellm(`from openai import OpenAI

client = OpenAI(
    api_key="sk-1234",# Your LiteLLM API key
    base_url="http://localhost:4000"
)

response = client.responses.create(
    model="openai/gpt-4o",
    tools=[{"type":"code_interpreter"}],
    input="Calculate the first 20 fibonacci numbers and plot them"
)

print(response)
`),
    );
    expectSuccess(run);
    expect(run.stdout).toMatch(/^Response\(id='resp_\w+'/);
    expect(run.stdout).toContain("status='completed'");
    expect(run.stdout).toMatch(/ResponseCodeInterpreterToolCall\(id='ci_\w+', code='fib = \[0, 1\]/);
    expect(run.stdout).toContain(`First 20 Fibonacci numbers: ${FIBONACCI}`);
    expect(run.stdout).toMatch(/AnnotationContainerFileCitation\(container_id='cntr_\w+', end_index=\d+, file_id='cfile_\w+', filename='fibonacci.png'/);
  });

  it('code_interpreter_streaming.py prints every event in order, the code as deltas, through response.completed', async () => {
    const run = await python(
      litellm(`from openai import OpenAI

client = OpenAI(
    api_key="sk-1234",
    base_url="http://localhost:4000"
)

stream = client.responses.create(
    model="openai/gpt-4o",
    tools=[{"type":"code_interpreter"}],
    input="Generate sample sales data CSV and create a visualization",
    stream=True
)

for event in stream:
    print(event)
`),
    );
    expectSuccess(run);
    // One line an event (the SDK's repr escapes newlines), ending with its type.
    const events = run.stdout
      .trimEnd()
      .split('\n')
      .map((line) => {
        const type = line.match(/type='(response\.[\w.]+)'\)$/)?.[1];
        const sequence = line.match(/sequence_number=(\d+)/)?.[1];
        if (!type || !sequence) throw new Error(`not an event: ${line.slice(0, 200)}`);
        return { sequence: Number(sequence), type, line };
      });
    expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i));
    expect(distinctRuns(events.map((e) => e.type))).toEqual(ONE_CODE_CALL_EVENT_TYPES);
    expect(events.filter((e) => e.type === 'response.code_interpreter_call_code.delta').length).toBeGreaterThan(10);
    expect(events.find((e) => e.type === 'response.code_interpreter_call_code.done')!.line).toContain('sales.to_csv("/mnt/data/sales.csv"');
    // The sales data and its chart are both cited (each mention is).
    const cited = events.filter((e) => e.type === 'response.output_text.annotation.added').map((e) => e.line.match(/AnnotationContainerFileCitation\(container_id='cntr_\w+', end_index=\d+, file_id='cfile_\w+', filename='([^']+)'/)?.[1]);
    expect([...new Set(cited)].sort()).toEqual(['sales.csv', 'sales.png']);
    expect(events.at(-1)!.line).toContain("status='completed'");
  });

  // Step 4 calls `client.containers.files.content(container_id=..., file_id=...)`, but in the official
  // Python SDK `content` is a sub-resource whose method is `.retrieve(file_id, container_id=...)`: as
  // written, the example fails there in the SDK, whatever the server. Steps 1 to 3 run as written.
  const GET_FILE_CONTENT = `from openai import OpenAI

client = OpenAI(
    api_key="sk-1234",
    base_url="http://localhost:4000"
)

# 1. Run code interpreter
response = client.responses.create(
    model="openai/gpt-4o",
    tools=[{"type":"code_interpreter"}],
    input="Create a scatter plot and save as PNG"
)

# 2. Get container_id from response
container_id = response.output[0].container_id

# 3. List files
files = client.containers.files.list(container_id=container_id)

# 4. Download file content
for file in files.data:
    content = client.containers.files.content(
        container_id=container_id,
        file_id=file.id
    )

    with open(file.filename,"wb")as f:
        f.write(content.read())
    print(f"Downloaded: {file.filename}")
`;

  it('get_file_content_gateway.py runs to step 4, where the SDK has no callable files.content (the seed is wrong there)', async () => {
    const run = await python(litellm(GET_FILE_CONTENT));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/line 23, in <module>\n\s+content = client\.containers\.files\.content\(/);
    expect(run.stderr.trimEnd().split('\n').at(-1)).toBe("TypeError: 'Content' object is not callable");
  });

  it('get_file_content_gateway.py with the SDK\'s real call downloads the scatter plot as scatter.png (file.filename is our extension)', async () => {
    const fixed = substitute(litellm(GET_FILE_CONTENT), [
      ['client.containers.files.content(\n        container_id=container_id,\n        file_id=file.id\n    )', 'client.containers.files.content.retrieve(\n        container_id=container_id,\n        file_id=file.id\n    )'],
    ]);
    const run = await python(fixed);
    expectSuccess(run);
    const downloaded = run.stdout.trimEnd().split('\n').map((line) => line.replace(/^Downloaded: /, ''));
    // The saved plot, and the figure the cell left open, which the sandbox shows as a notebook would
    // (the code_interpreter_call's image output): a container file too, so the loop downloads it as well.
    expect(downloaded.sort()).toEqual([expect.stringMatching(/^[0-9a-f]{12}-figure-1\.png$/), 'scatter.png']);
    expect(readdirSync(run.dir).sort()).toEqual([...downloaded, 'seed.py']);
    for (const name of downloaded) {
      const png = readFileSync(path.join(run.dir, name));
      expect(png.subarray(0, 8)).toEqual(PNG);
      expect(png.length).toBeGreaterThan(5000);
    }
  });
});

/** Seed 001's client, as it writes it; its key comes from AIVENE_API_KEY, set to ours. */
const SEED_001_CLIENT = `import OpenAI from 'openai';

const client = new OpenAI({
  baseURL: 'https://api.aivene.com/v1',
  apiKey: process.env.AIVENE_API_KEY
});
`;

/** A seed 001 example as a module: its client, then the example, then (for those that print nothing) the response as JSON. */
function seed001(example: string, print = 'console.log(JSON.stringify(response));\n'): Promise<Run> {
  const source = substitute(SEED_001_CLIENT, [["'https://api.aivene.com/v1'", `'${baseUrl()}/v1'`]]) + '\n' + example + '\n' + print;
  return node(source, { AIVENE_API_KEY: process.env.CIBOX_KEY_A! });
}

interface ChatResult {
  choices: { message: { content: string }; finish_reason: string }[];
  code_interpreter: { executions: { code: string; status: string; stdout: string; results: { type: string; url?: string }[]; error: unknown }[] };
}

/** The completion a seed 001 example printed; its one execution completed and drew a PNG that its link serves. */
async function chartCompletion(run: Run, file: string): Promise<ChatResult> {
  expectSuccess(run);
  const completion = JSON.parse(run.stdout) as ChatResult;
  expect(completion.choices[0]!.finish_reason).toBe('stop');
  expect(completion.choices[0]!.message.content).toContain(`(sandbox:/mnt/data/${file})`);
  const [execution] = completion.code_interpreter.executions;
  expect(completion.code_interpreter.executions).toHaveLength(1);
  expect(execution).toMatchObject({ status: 'completed', error: null });
  expect(execution!.code).toContain(`plt.savefig("/mnt/data/${file}")`);
  const image = execution!.results.find((r) => r.type === 'image');
  const res = await fetch(image!.url!);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/png');
  expect(Buffer.from(await res.arrayBuffer()).subarray(0, 8)).toEqual(PNG);
  return completion;
}

describe("seed 001 (a provider's Chat Completions docs): its Node examples with the official SDK", () => {
  it('"How it works" prints the answer with the first 20 Fibonacci numbers', async () => {
    const run = await seed001(
      `const response = await client.chat.completions.create({
  model: 'gpt-4o',
  messages: [
    { role: 'user', content: 'Calculate the first 20 Fibonacci numbers' }
  ],
  tools: [
    { type: 'code_interpreter' }
  ]
});

console.log(response.choices[0].message.content);
`,
      '',
    );
    expectSuccess(run);
    expect(run.stdout).toContain(`First 20 Fibonacci numbers: ${FIBONACCI}`);
  });

  it('"Example with configuration" (timeout_ms, sandbox_timeout_ms) plots a sine wave', async () => {
    const run = await seed001(`const response = await client.chat.completions.create({
  model: 'gpt-4o',
  messages: [
    { role: 'user', content: 'Generate a sine wave plot' }
  ],
  tools: [
    {
      type: 'code_interpreter',
      timeout_ms: 30000,
      sandbox_timeout_ms: 60000
    }
  ]
});
`);
    await chartCompletion(run, 'sine_wave.png');
  });

  it('"Data visualization" charts the population of the top 5 countries, the chart included in the response', async () => {
    const run = await seed001(`const response = await client.chat.completions.create({
  model: 'gpt-4o',
  messages: [
    { 
      role: 'user', 
      content: 'Create a bar chart showing the population of the top 5 most populous countries' 
    }
  ],
  tools: [
    { type: 'code_interpreter' }
  ]
});

// The model will generate and execute Python code using matplotlib
// The chart image will be included in the response
`);
    const completion = await chartCompletion(run, 'population.png');
    expect(completion.code_interpreter.executions[0]!.stdout).toContain('India: 1,428.6 million');
  });

  it('"Combining with other tools": web_search is accepted and ignored, the code interpreter draws the chart', async () => {
    // No web search here (and the sandbox has no network): the persona's prices are made up and say so.
    const run = await seed001(`const response = await client.chat.completions.create({
  model: 'gpt-4o',
  messages: [
    { role: 'user', content: 'Find the current stock prices of FAANG companies and create a comparison chart' }
  ],
  tools: [
    { type: 'web_search' },
    { type: 'code_interpreter' }
  ]
});
`);
    const completion = await chartCompletion(run, 'faang_stocks.png');
    expect(completion.choices[0]!.message.content).toContain('illustrative, not current quotes');
  });
});

describe("seed 002 (an explainer of OpenAI's Code Interpreter): its Python examples with `OpenAI()`", () => {
  it('example 1 (auto container, 4g, instructions) prints x = 1', async () => {
    const run = await python(`from openai import OpenAI
client = OpenAI()
instructions = """
You are a personal math tutor.
When asked a math question, use the python tool to compute the answer.
Return the final answer and a short explanation.
"""
resp = client.responses.create(
    model="gpt-4.1",
    tools=[
        {
            "type": "code_interpreter",
            "container": {"type": "auto", "memory_limit": "4g"},
        }
    ],
    instructions=instructions,
    input="Solve 3x + 11 = 14. Show x.",
)
print(resp.output_text)
`);
    expectSuccess(run);
    expect(run.stdout).toContain('x = 1\n');
  });

  it('example 2 (explicit container, tool_choice required) prints each intermediate value and the container id', async () => {
    const run = await python(`from openai import OpenAI
client = OpenAI()
container = client.containers.create(
    name="analysis-container",
    memory_limit="4g",
)
resp = client.responses.create(
    model="gpt-4.1",
    tools=[
        {
            "type": "code_interpreter",
            "container": container.id,
        }
    ],
    tool_choice="required",
    input="""
Use the python tool to do all computations.
Compute 4 * 3.82.
Then take the square root of that result.
Then take the square root again.
Return each intermediate value.
""",
)
print(resp.output_text)
print("container_id:", container.id)
`);
    expectSuccess(run);
    expect(run.stdout).toContain('4 * 3.82 = 15.28\n');
    expect(run.stdout).toContain('square root: 3.9089');
    expect(run.stdout).toContain('square root again: 1.9771');
    const containerId = run.stdout.match(/^container_id: (cntr_\w+)$/m)![1]!;
    expect(await client('a').containers.retrieve(containerId)).toMatchObject({ name: 'analysis-container', memory_limit: '4g', status: 'running' });
  });

  const EXAMPLE_3 = `import csv
from pathlib import Path
from openai import OpenAI
client = OpenAI()
# Create a tiny CSV locally for the demo
csv_path = Path("sales.csv")
rows = [
    ["date", "region", "revenue"],
    ["2026-01-01", "west", "1200"],
    ["2026-01-02", "west", "900"],
    ["2026-01-01", "east", "700"],
    ["2026-01-02", "east", "1100"],
]
with csv_path.open("w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerows(rows)
# Upload the file to OpenAI Files
uploaded = client.files.create(
    file=csv_path.open("rb"),
    purpose="user_data",
)
# Ask the model to analyze it with Code Interpreter
resp = client.responses.create(
    model="gpt-4.1",
    tools=[{"type": "code_interpreter", "container": {"type": "auto", "memory_limit": "4g"}}],
    input=[
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": """
Use the python tool.
Read the uploaded CSV.
Compute total revenue by region.
Create a bar chart of revenue by region.
Save the chart as chart.png in the container.
Then explain the result in plain English.
"""},
                {"type": "input_file", "file_id": uploaded.id},
            ],
        }
    ],
)
# Print the assistant's explanation
print(resp.output_text)
# Extract container file citations
citations = []
for item in resp.output:
    if item.type == "message":
        for part in item.content:
            ann = getattr(part, "annotations", None)
            if not ann:
                continue
            for a in ann:
                if a["type"] == "container_file_citation":
                    citations.append(a)
print("Found citations:", citations)
# At this point you can download the file bytes:
# Send an authenticated GET request to:
# /v1/containers/{container_id}/files/{file_id}/content
# using citations[0]["container_id"] and citations[0]["file_id"].
`;

  it('example 3 reads the uploaded CSV and cites chart.png, then fails on a["type"]: SDK annotations are objects, not dicts (the seed is wrong there)', async () => {
    const run = await python(EXAMPLE_3);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('Totals by region:');
    expect(run.stdout).toMatch(/east\s+1800\n\s*west\s+2100/);
    expect(run.stdout).toContain('(sandbox:/mnt/data/chart.png)');
    expect(run.stderr).toContain('if a["type"] == "container_file_citation":');
    expect(run.stderr.trimEnd().split('\n').at(-1)).toBe("TypeError: 'AnnotationContainerFileCitation' object is not subscriptable");
  });

  it('example 3 with attribute access finds the chart.png citation, and the GET its comment describes downloads it', async () => {
    const fixed = substitute(EXAMPLE_3, [['if a["type"] == "container_file_citation":', 'if a.type == "container_file_citation":']]);
    // What the example's closing comment says to do, with the citation's fields.
    const download = `import os, urllib.request
c = citations[0]
req = urllib.request.Request(f"{os.environ['OPENAI_BASE_URL']}/containers/{c.container_id}/files/{c.file_id}/content", headers={"Authorization": f"Bearer {os.environ['OPENAI_API_KEY']}"})
Path(c.filename).write_bytes(urllib.request.urlopen(req).read())
print("Downloaded:", c.filename)
`;
    const run = await python(fixed + download);
    expectSuccess(run);
    expect(run.stdout).toMatch(/Found citations: \[AnnotationContainerFileCitation\(container_id='cntr_\w+', end_index=\d+, file_id='cfile_\w+', filename='chart.png', start_index=\d+, type='container_file_citation'\)/);
    // Every mention of the chart is cited, and nothing else is.
    expect(run.stdout.match(/filename='[^']*'/g)!.every((f) => f === "filename='chart.png'")).toBe(true);
    expect(run.stdout).toContain('Downloaded: chart.png\n');
    expect(readFileSync(path.join(run.dir, 'chart.png')).subarray(0, 8)).toEqual(PNG);
  });
});

// Seed 003's SDK calls are not the SDK's: every `client.responses.create` passes `messages=[...]`
// (Chat Completions' parameter; the Responses API takes `input`) and reads
// `response.choices[0].message.content` or `response.tool_outputs`, which a Response does not have;
// `client.containers.create(file_ids=...)` leaves out the required `name`. The official SDK refuses
// them before any request is sent, so they cannot run as written anywhere. What does run: the code
// it shows running in the container, its `{"type": "existing"}` container, and its lifecycle calls.
describe("seed 003 (a guide to OpenAI's Code Interpreter)", () => {
  it('as written, its Responses and container-create calls are refused by the SDK itself', async () => {
    const run = await python(`from openai import OpenAI

client = OpenAI()

try:
    # Enable code interpreter
    response = client.responses.create(
        model="gpt-5",
        messages=[
            {
                "role": "user",
                "content": "Calculate the first 20 Fibonacci numbers and plot them"
            }
        ],
        tools=[{"type": "code_interpreter"}]
    )
except TypeError as e:
    print(e)

try:
    # Create container explicitly
    container = client.containers.create(
        file_ids=["file_1", "file_2"]
    )
except TypeError as e:
    print(e)
`);
    expectSuccess(run);
    expect(run.stdout).toBe("Responses.create() got an unexpected keyword argument 'messages'\nContainers.create() missing 1 required keyword-only argument: 'name'\n");
  });

  it('its in-container code runs as written in an "existing" container holding the uploaded files; the trend chart is cited; its lifecycle calls run', async () => {
    const sdk = client('a');
    const months = ['2025-01', '2025-02', '2025-03'];
    const rows = months.flatMap((m, i) => ['widget', 'gadget', 'doohickey'].map((p, j) => `${m}-1${j},${p},${100 * (i + 1) + 10 * j}`));
    const salesFile = await sdk.files.create({ file: await toFile(Buffer.from(['date,product,revenue', ...rows].join('\n') + '\n'), 'sales_data.csv'), purpose: 'assistants' });
    const dataFile = await sdk.files.create({ file: await toFile(Buffer.from('sales\n1\n2\n3\n'), 'data.csv'), purpose: 'assistants' });
    const container = await sdk.containers.create({ name: 'seed-003', file_ids: [dataFile.id, salesFile.id] });

    // "Access Files in Code", as written.
    const accessFiles = `# Files are available at /mnt/data/ in the container
import pandas as pd

# Read uploaded file
df = pd.read_csv('/mnt/data/data.csv')

# List uploaded files
import os
files = os.listdir('/mnt/data/')
print(files)  # ['data.csv']`;
    // "CSV Analysis: What the model might do", as written.
    const analysis = `import pandas as pd
import matplotlib.pyplot as plt

# Load data
df = pd.read_csv('/mnt/data/sales_data.csv')

# 1. Total revenue
total_revenue = df['revenue'].sum()

# 2. Top 5 products
top_products = df.groupby('product')['revenue'].sum().nlargest(5)

# 3. Monthly trend
df['date'] = pd.to_datetime(df['date'])
monthly = df.groupby(df['date'].dt.to_period('M'))['revenue'].sum()
monthly.plot(kind='line', title='Monthly Revenue Trend')
plt.savefig('/mnt/data/trend.png')

# 4. Detect anomalies
mean = df['revenue'].mean()
std = df['revenue'].std()
anomalies = df[abs(df['revenue'] - mean) > 3 * std]

print(f"Total Revenue: \${total_revenue:,.2f}")
print(f"Top Products:\\n{top_products}")
print(f"Anomalies: {len(anomalies)}")`;
    const model = ScriptedUpstreamClient.newModel();
    const call = (code: string) => ({ name: 'python', arguments: JSON.stringify({ code }) });
    await new ScriptedUpstreamClient().script(model, [
      { tool_calls: [call(accessFiles)] },
      { tool_calls: [call(analysis)] },
      { content: 'Total revenue is $1,890.00; the trend is in [trend.png](sandbox:/mnt/data/trend.png).' },
    ]);
    // The seed's "Manual Container Management" request, with `input` for its `messages`.
    const response = await sdk.responses.create({
      model,
      input: [{ role: 'user', content: 'Load the data' }],
      tools: [{ type: 'code_interpreter', container: { type: 'existing', container_id: container.id } as never }],
      include: ['code_interpreter_call.outputs'],
    });
    expect(response.status).toBe('completed');
    const calls = response.output.flatMap((i) => (i.type === 'code_interpreter_call' ? [i] : []));
    expect(calls.map((c) => c.container_id)).toEqual([container.id, container.id]);
    const logs = calls.map((c) => (c.outputs ?? []).flatMap((o) => (o.type === 'logs' ? [o.logs] : [])).join(''));
    expect(logs[0]).toMatch(/^\[('data\.csv', 'sales_data\.csv'|'sales_data\.csv', 'data\.csv')\]\n$/);
    expect(logs[1]).toContain('Total Revenue: $1,890.00\n');
    expect(logs[1]).toMatch(/Top Products:\nproduct\ndoohickey\s+660\ngadget\s+630\nwidget\s+600\n/);
    expect(logs[1]).toContain('Anomalies: 0\n');
    const message = response.output.at(-1)!;
    if (message.type !== 'message' || message.content[0]?.type !== 'output_text') throw new Error('expected the message last');
    const [citation] = message.content[0].annotations;
    if (citation?.type !== 'container_file_citation') throw new Error('expected a container_file_citation');
    expect(citation).toMatchObject({ container_id: container.id, filename: 'trend.png' });
    const content = await sdk.containers.files.content.retrieve(citation.file_id, { container_id: container.id });
    expect(Buffer.from(await content.arrayBuffer()).subarray(0, 8)).toEqual(PNG);

    // "Container Lifecycle", as written, on that container.
    const run = await python(
      `import os, types
from openai import OpenAI
client = OpenAI()
container = types.SimpleNamespace(id=os.environ["CONTAINER_ID"])

# Check container status
container = client.containers.retrieve(container.id)
print(f"Status: {container.status}")  # active, idle, expired

# Container expires after 1 hour
# Idle timeout: 20 minutes

# Clean up
client.containers.delete(container.id)
`,
      { CONTAINER_ID: container.id },
    );
    expectSuccess(run);
    // OpenAI's statuses are running and expired (the seed's comment guesses others).
    expect(run.stdout).toBe('Status: running\n');
    await expect(sdk.containers.retrieve(container.id)).rejects.toMatchObject({ status: 404 });
  });
});
