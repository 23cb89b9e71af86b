import type { ChatMessage, ChatRequest } from '@cibox/model';
import type { ScriptedTurn } from './scripted-turns';

/**
 * How the scripted upstream answers a model nobody scripted, so that the seeds' examples (model
 * `openai/gpt-4o`, a question, the code_interpreter tool) get a plausible run: offered a `python`
 * function and with no tool result since the user's last message, it writes code chosen by keywords
 * of that message; after a tool result, it sums up and links the files as `sandbox:/mnt/data/…`;
 * without the tool, it answers plainly. Deterministic: the same request gets the same answer.
 */
export function personaTurn(request: ChatRequest): ScriptedTurn {
  const messages = request.messages ?? [];
  const lastUser = messages.map((m) => m.role).lastIndexOf('user');
  const question = lastUser === -1 ? '' : textOf(messages[lastUser]!);
  const results = messages.slice(lastUser + 1).filter((m) => m.role === 'tool');
  if (results.length > 0) return { content: summary(results.map(textOf).join('\n'), messages.slice(lastUser + 1)) };
  const offersPython = (request.tools ?? []).some((t) => t.type === 'function' && t.function?.name === 'python');
  if (offersPython && request.tool_choice !== 'none') {
    const mentioned = messages.map(textOf).join('\n').match(/\/mnt\/data\/[\w.-]+\.csv\b/)?.[0];
    return { tool_calls: [{ name: 'python', arguments: JSON.stringify({ code: codeFor(question.toLowerCase(), mentioned) }) }] };
  }
  const quoted = question.length > 200 ? `${question.slice(0, 200)}…` : question;
  return { content: `You asked: "${quoted}". I am the scripted test model: offer me the python tool and I will run code to answer.` };
}

function textOf(message: ChatMessage): string {
  const content = message.content;
  if (typeof content === 'string') return content;
  return (content ?? []).map((part) => (part.type === 'text' ? part.text : '')).join('\n');
}

const FILE_PATH = /\/mnt\/data\/[\w.-]*\w/g;
const DISPLAYED_FIGURE = /^\/mnt\/data\/[0-9a-f]{12}-figure-\d+\.png$/;

function codeOf(args: string): string {
  try {
    const code = (JSON.parse(args) as { code?: unknown }).code;
    return typeof code === 'string' ? code : '';
  } catch {
    return '';
  }
}

/** The final answer after the code ran: its output, and a link to every file the code saved or the output names. */
function summary(toolOutput: string, turn: ChatMessage[]): string {
  const code = turn
    .flatMap((m) => (m.role === 'assistant' ? (m.tool_calls ?? []) : []))
    .map((call) => codeOf(call.function.arguments))
    .join('\n');
  const failed = /Traceback|\w+Error\b/.test(toolOutput);
  // A failed cell may not have written what its code meant to; then only what the output names.
  const saved = failed ? [] : [...code.matchAll(/(?:savefig|to_csv)\("(\/mnt\/data\/[^"]+)"/g)].map((m) => m[1]!);
  // Figures the sandbox displayed (`<exec>-figure-<n>.png`) are shown already: a model mentions what its code saved.
  const shown = toolOutput
    .split('\n')
    .filter((line) => !DISPLAYED_FIGURE.test(line.trim()))
    .join('\n');
  const files = [...new Set([...saved, ...[...shown.matchAll(FILE_PATH)].map((m) => m[0])])];
  const output = shown.length > 800 ? `${shown.slice(0, 800)}…` : shown;
  const lines = [failed ? 'The code raised an error:' : 'I ran the code. Here is its output:', '', '```', output.trim(), '```'];
  if (files.length > 0) {
    lines.push('', 'Files:');
    for (const file of files) lines.push(`- [${file.slice('/mnt/data/'.length)}](sandbox:${file})`);
  }
  return lines.join('\n');
}

/** Python for the question's keywords; every file it writes goes to /mnt/data. */
function codeFor(q: string, csvPath: string | undefined): string {
  const has = (...words: string[]) => words.some((w) => q.includes(w));
  const wantsChart = has('plot', 'chart', 'graph', 'visual');
  // A PNG the question names ("save the chart as chart.png") is saved under that name.
  const named = q.match(/\b([\w-]+\.png)\b/)?.[1];
  if (csvPath) {
    const lines = ['import pandas as pd', `df = pd.read_csv("${csvPath}")`, 'print(df.shape)', 'print(df.head().to_string())', 'data = df.select_dtypes("number")'];
    // "revenue by region": totals per value of that column, when the file has it; else a summary.
    const by = q.match(/\bby ([a-z_]\w*)/)?.[1];
    if (!by) lines.push('print(df.describe().to_string())');
    else lines.push(`if "${by}" in df.columns:`, `    data = df.groupby("${by}").sum(numeric_only=True)`, `    print("Totals by ${by}:")`, '    print(data.to_string())');
    if (wantsChart) {
      const chart = named ? `/mnt/data/${named}` : csvPath.replace(/\.csv$/, '_chart.png');
      lines.push('import matplotlib.pyplot as plt', `data.plot(kind="${has('bar') ? 'bar' : 'line'}", title="${csvPath.slice(10)}")`, 'plt.tight_layout()', `plt.savefig("${chart}")`, `print("Saved ${chart}")`);
    }
    return lines.join('\n');
  }
  const equation = q.match(/(\d*(?:\.\d+)?)\s*x\s*([+-])\s*(\d+(?:\.\d+)?)\s*=\s*(-?\d+(?:\.\d+)?)/);
  if (has('solve') && equation) {
    const [, a, sign, b, c] = equation;
    return [`a, b, c = ${a || '1'}, ${sign}${b}, ${c}`, 'x = (c - b) / a', `print("${equation[0]}  =>  x = (c - b) / a")`, 'print(f"x = {x:g}")'].join('\n');
  }
  // "Compute 4 * 3.82. Then take the square root of that result. Then take the square root again."
  const expression = q.match(/\bcompute (\d+(?:\.\d+)?(?:\s*[-+*/]\s*\d+(?:\.\d+)?)+)/)?.[1];
  if (expression && has('square root')) {
    return ['import math', `value = ${expression}`, `print("${expression} =", round(value, 10))`, 'root = math.sqrt(value)', 'print("square root:", root)', 'print("square root again:", math.sqrt(root))'].join('\n');
  }
  if (has('fibonacci')) {
    const lines = ['fib = [0, 1]', 'while len(fib) < 20:', '    fib.append(fib[-1] + fib[-2])', 'print("First 20 Fibonacci numbers:", fib)'];
    if (wantsChart) {
      lines.push(
        'import matplotlib.pyplot as plt',
        'plt.figure(figsize=(8, 4))',
        'plt.plot(range(1, 21), fib, marker="o")',
        'plt.title("First 20 Fibonacci numbers")',
        'plt.xlabel("n")',
        'plt.ylabel("F(n)")',
        'plt.savefig("/mnt/data/fibonacci.png")',
        'print("Saved /mnt/data/fibonacci.png")',
      );
    }
    return lines.join('\n');
  }
  if (has('csv', 'sales')) {
    return [
      'import pandas as pd',
      'import matplotlib.pyplot as plt',
      'sales = pd.DataFrame({"month": ["Jan", "Feb", "Mar", "Apr", "May", "Jun"], "revenue": [12000, 13500, 12800, 15100, 16400, 17250]})',
      'sales.to_csv("/mnt/data/sales.csv", index=False)',
      'print(sales.to_string(index=False))',
      'print("Total revenue:", sales["revenue"].sum())',
      'ax = sales.plot(x="month", y="revenue", kind="bar", legend=False, title="Monthly revenue")',
      'ax.set_ylabel("revenue")',
      'plt.tight_layout()',
      'plt.savefig("/mnt/data/sales.png")',
      'print("Saved /mnt/data/sales.csv and /mnt/data/sales.png")',
    ].join('\n');
  }
  const chart = (name: string, body: string[]) => {
    const file = `/mnt/data/${named ?? `${name}.png`}`;
    return ['import numpy as np', 'import matplotlib.pyplot as plt', 'rng = np.random.default_rng(42)', ...body, 'plt.tight_layout()', `plt.savefig("${file}")`, `print("Saved ${file}")`].join('\n');
  };
  if (has('population')) {
    // No network in the sandbox: the figures are written in (UN World Population Prospects, 2023, millions).
    return chart('population', [
      'countries = ["India", "China", "United States", "Indonesia", "Pakistan"]',
      'millions = [1428.6, 1425.7, 340.0, 277.5, 240.5]',
      'plt.bar(countries, millions)',
      'plt.ylabel("population (millions)")',
      'plt.title("Top 5 most populous countries (2023)")',
      'for c, m in zip(countries, millions): print(f"{c}: {m:,.1f} million")',
    ]);
  }
  if (has('faang', 'stock')) {
    // Nothing can be looked up without a network: made-up prices, and the output says so.
    return chart('faang_stocks', [
      'tickers = ["META", "AAPL", "AMZN", "NFLX", "GOOGL"]',
      'prices = [480.0, 190.0, 180.0, 620.0, 170.0]',
      'print("No network access here: these prices are illustrative, not current quotes.")',
      'for t, p in zip(tickers, prices): print(f"{t}: ${p:,.2f}")',
      'plt.bar(tickers, prices)',
      'plt.ylabel("price (USD, illustrative)")',
      'plt.title("FAANG share prices (illustrative)")',
    ]);
  }
  if (has('sine')) return chart('sine_wave', ['x = np.linspace(0, 4 * np.pi, 400)', 'plt.plot(x, np.sin(x))', 'plt.title("Sine wave")', 'plt.xlabel("x")', 'plt.ylabel("sin(x)")', 'print("plotted sin(x) for x in [0, 4*pi]")']);
  if (has('scatter')) return chart('scatter', ['x = rng.normal(size=100)', 'y = 2 * x + rng.normal(scale=0.5, size=100)', 'plt.scatter(x, y)', 'plt.title("Scatter plot")', 'print("correlation:", round(float(np.corrcoef(x, y)[0, 1]), 3))']);
  if (has('pie')) return chart('pie', ['shares = [35, 25, 20, 20]', 'plt.pie(shares, labels=["A", "B", "C", "D"], autopct="%1.0f%%")', 'plt.title("Pie chart")', 'print("shares:", shares)']);
  if (has('bar')) return chart('bar', ['values = rng.integers(5, 20, size=5)', 'plt.bar(["A", "B", "C", "D", "E"], values)', 'plt.title("Bar chart")', 'print("values:", values.tolist())']);
  if (wantsChart) return chart('chart', ['x = np.linspace(0, 2 * np.pi, 100)', 'plt.plot(x, np.sin(x))', 'plt.title("sin(x)")', 'print("plotted sin(x) on [0, 2*pi]")']);
  return ['import math', 'roots = [round(math.sqrt(n), 3) for n in range(1, 11)]', 'print("Square roots of 1..10:", roots)', 'print("Sum:", round(sum(roots), 3))'].join('\n');
}
