import type { ChatMessage, ChatRequest } from '@cibox/model';
import { personaTurn } from './scripted-persona';

const python = { type: 'function' as const, function: { name: 'python', parameters: { type: 'object', properties: { code: { type: 'string' } } } } };
const ask = (question: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: question }], tools: [python], ...extra });
const codeOf = (req: ChatRequest) => {
  const turn = personaTurn(req);
  expect(turn.tool_calls).toHaveLength(1);
  expect(turn.tool_calls![0]!.name).toBe('python');
  return (JSON.parse(turn.tool_calls![0]!.arguments) as { code: string }).code;
};

describe('the default persona', () => {
  it('calls python to compute, print and plot Fibonacci numbers to /mnt/data/fibonacci.png', () => {
    const code = codeOf(ask('Compute the first 20 Fibonacci numbers and plot them.'));
    expect(code).toContain('while len(fib) < 20');
    expect(code).toContain('print(');
    expect(code).toContain('plt.savefig("/mnt/data/fibonacci.png")');
  });

  it.each([
    ['Create a CSV of monthly sales and chart it', ['/mnt/data/sales.csv', '/mnt/data/sales.png']],
    ['Make a scatter plot of random data', ['/mnt/data/scatter.png']],
    ['Draw a pie chart', ['/mnt/data/pie.png']],
    ['Show a bar chart', ['/mnt/data/bar.png']],
    ['Generate a sine wave plot', ['/mnt/data/sine_wave.png']],
    ['Create a bar chart showing the population of the top 5 most populous countries', ['/mnt/data/population.png', '1428.6']],
    ['Find the current stock prices of FAANG companies and create a comparison chart', ['/mnt/data/faang_stocks.png', 'illustrative']],
    ['Plot a scatter plot and save it as points.png', ['/mnt/data/points.png']],
  ])('writes the files "%s" calls for', (question, files) => {
    const code = codeOf(ask(question));
    for (const file of files) expect(code).toContain(file);
  });

  it('reads a CSV file the conversation names', () => {
    const req = ask('Summarise the data', { messages: [{ role: 'system', content: 'Files: /mnt/data/data.csv' }, { role: 'user', content: 'Summarise the data' }] });
    expect(codeOf(req)).toContain('pd.read_csv("/mnt/data/data.csv")');
  });

  it('totals a CSV by the column the question names, and saves the chart under the name it asks for', () => {
    const question = 'Read the uploaded CSV. Compute total revenue by region. Create a bar chart. Save the chart as chart.png in the container.';
    const code = codeOf(ask(question, { messages: [{ role: 'user', content: `${question}\nFiles: /mnt/data/sales.csv` }] }));
    expect(code).toContain('df.groupby("region").sum(numeric_only=True)');
    expect(code).toContain('data.plot(kind="bar"');
    expect(code).toContain('plt.savefig("/mnt/data/chart.png")');
  });

  it('solves a linear equation, and chains a computation with square roots', () => {
    expect(codeOf(ask('Solve 3x + 11 = 14. Show x.'))).toContain('a, b, c = 3, +11, 14\nx = (c - b) / a');
    const code = codeOf(ask('Compute 4 * 3.82.\nThen take the square root of that result.\nThen take the square root again.'));
    expect(code).toContain('value = 4 * 3.82\n');
    expect(code).toContain('math.sqrt(root)');
  });

  it('runs a small computation for anything else, and reads a question given as parts', () => {
    const req = ask('', { messages: [{ role: 'user', content: [{ type: 'text', text: 'What is 2+2?' }] }] });
    expect(codeOf(req)).toContain('print(');
  });

  it('after a tool result, sums up and links the saved files as sandbox: paths, not the figures shown already', () => {
    const call = personaTurn(ask('Plot the first 20 Fibonacci numbers')).tool_calls![0]!;
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Plot the first 20 Fibonacci numbers' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'python', arguments: call.arguments } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '[stdout]\nFirst 20 Fibonacci numbers: [0, 1, 1, 2]\nSaved /mnt/data/fibonacci.png\n\n[files]\n/mnt/data/0e95e26e090d-figure-1.png\n/mnt/data/fibonacci.png' },
    ];
    const turn = personaTurn(ask('', { messages }));
    expect(turn.tool_calls).toBeUndefined();
    expect(turn.content).toContain('First 20 Fibonacci numbers: [0, 1, 1, 2]');
    expect(turn.content).toContain('[fibonacci.png](sandbox:/mnt/data/fibonacci.png)');
    expect(turn.content!.match(/sandbox:/g)).toHaveLength(1);
    expect(turn.content).not.toContain('figure-1.png');
  });

  it('says when the code failed, and links nothing it did not write', () => {
    const call = personaTurn(ask('Plot a bar chart')).tool_calls![0]!;
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Plot a bar chart' },
      { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'python', arguments: call.arguments } }] },
      { role: 'tool', tool_call_id: 'c', content: 'Traceback (most recent call last):\nZeroDivisionError: division by zero' },
    ];
    const turn = personaTurn(ask('', { messages }));
    expect(turn.content).toMatch(/^The code raised an error/);
    expect(turn.content).not.toContain('sandbox:');
  });

  it('answers plainly without the python tool, or when tool_choice is none', () => {
    for (const req of [ask('Hello there', { tools: undefined }), ask('Hello there', { tool_choice: 'none' })]) {
      const turn = personaTurn(req);
      expect(turn.tool_calls).toBeUndefined();
      expect(turn.content).toContain('Hello there');
    }
  });

  it('is deterministic', () => {
    const req = ask('Make a scatter plot');
    expect(personaTurn(req)).toEqual(personaTurn(structuredClone(req)));
  });
});
