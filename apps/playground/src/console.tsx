import { useEffect, useRef, useState } from 'preact/hooks';
import type { ExecutionEvent, ExecutionObject, ExecutionResult } from '@cibox/contracts';
import { cancelExecution, clientFor, describeError, runExecution } from './api';

interface Cell {
  code: string;
  stdout: string;
  stderr: string;
  results: ExecutionResult[];
  /** `running` until the `done` event; then the execution's own status. */
  status: string;
  execution: ExecutionObject | null;
  failure: string | null;
}

interface Props {
  apiKey: string;
  containerId: string | null;
  /** Makes a container for the console when the conversation has none yet. */
  onContainer: (id: string) => void;
  /** Called after each cell, so the container panel can refresh. */
  onSettled: () => void;
}

/** Folds one streamed execution event into its cell. */
function applyExecutionEvent(cell: Cell, event: ExecutionEvent): Cell {
  switch (event.type) {
    case 'created':
      return { ...cell, execution: event.execution };
    case 'stdout':
      return { ...cell, stdout: cell.stdout + event.text };
    case 'stderr':
      return { ...cell, stderr: cell.stderr + event.text };
    case 'result':
      return { ...cell, results: [...cell.results, event.result] };
    case 'done':
      // The whole execution is the record: its stdout and stderr are complete (and cut as stored).
      return { ...cell, status: event.execution.status, execution: event.execution, stdout: event.execution.stdout, stderr: event.execution.stderr, results: event.execution.results };
  }
}

/** A PNG the code displayed: its content route needs the key, so it is fetched and shown as a blob. */
function ResultImage({ apiKey, containerId, fileId }: { apiKey: string; containerId: string; fileId: string }) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    let objectUrl: string | null = null;
    let live = true;
    void clientFor(apiKey)
      .containers.files.content.retrieve(fileId, { container_id: containerId })
      .then((res) => res.blob())
      .then((blob) => {
        if (!live) return;
        objectUrl = URL.createObjectURL(blob);
        setUrl(objectUrl);
      })
      .catch(() => undefined);
    return () => {
      live = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [apiKey, containerId, fileId]);
  return <figure class="figure">{url && <img src={url} alt="Figure displayed by the cell" />}</figure>;
}

function CellView({ cell, apiKey, containerId }: { cell: Cell; apiKey: string; containerId: string }) {
  const error = cell.execution?.error;
  return (
    <section class="cell" data-testid="cell" data-status={cell.status}>
      <div class="cell-head">
        <span class={`badge ${cell.status === 'running' ? 'busy' : cell.status}`}>{cell.status}</span>
        {cell.execution && cell.status !== 'running' && <span class="muted">{cell.execution.duration_ms} ms</span>}
        {cell.execution?.state_lost && <span class="badge failed">variables lost: the sandbox was restarted</span>}
      </div>
      <pre class="code">
        <code>{cell.code}</code>
      </pre>
      {cell.stdout && (
        <pre class="logs" data-testid="stdout" aria-label="stdout">
          {cell.stdout}
        </pre>
      )}
      {cell.stderr && (
        <pre class="logs stderr" aria-label="stderr">
          {cell.stderr}
        </pre>
      )}
      {cell.results.map((result, i) =>
        result.type === 'text' ? (
          <pre key={i} class="logs result" aria-label="Result">
            {result.text}
          </pre>
        ) : (
          <ResultImage key={result.file_id} apiKey={apiKey} containerId={containerId} fileId={result.file_id} />
        ),
      )}
      {error && (
        <pre class="logs stderr" aria-label="Error">
          {[`${error.name}: ${error.value}`, ...error.traceback].join('\n')}
        </pre>
      )}
      {cell.failure && (
        <p class="error" role="alert">
          {cell.failure}
        </p>
      )}
    </section>
  );
}

/** Runs code straight in the container through our executions extension, streaming its output. */
export function ConsoleView({ apiKey, containerId, onContainer, onSettled }: Props) {
  const [code, setCode] = useState('');
  const [cells, setCells] = useState<Cell[]>([]);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const running = useRef<string | null>(null);

  const updateLast = (change: (cell: Cell) => Cell) => setCells((all) => (all.length ? [...all.slice(0, -1), change(all[all.length - 1]!)] : all));

  async function createContainer() {
    try {
      const container = await clientFor(apiKey).containers.create({ name: 'playground console' });
      onContainer(container.id);
      setNotice(null);
    } catch (err) {
      setNotice(describeError(err));
    }
  }

  async function cancel() {
    const id = running.current;
    if (!id || !containerId) return;
    // The stream then ends with the execution `cancelled` (its variables kept).
    await cancelExecution(apiKey, containerId, id).catch((err: unknown) => setNotice(describeError(err)));
  }

  async function run() {
    if (!containerId || busy || !code.trim()) return;
    setBusy(true);
    setCells((all) => [...all, { code, stdout: '', stderr: '', results: [], status: 'running', execution: null, failure: null }]);
    // As in a notebook console: the cell keeps the code, the input is ready for the next one.
    setCode('');
    try {
      for await (const event of runExecution(apiKey, containerId, code)) {
        if (event.type === 'created') running.current = event.execution.id;
        updateLast((cell) => applyExecutionEvent(cell, event));
      }
    } catch (err) {
      updateLast((cell) => ({ ...cell, status: 'failed', failure: describeError(err) }));
    } finally {
      updateLast((cell) => (cell.status === 'running' ? { ...cell, status: 'unknown', failure: 'The stream ended before the execution did; it may still be running.' } : cell));
      running.current = null;
      setBusy(false);
      onSettled();
    }
  }

  if (!apiKey) return <p class="hint">Paste an API key first.</p>;
  return (
    <div class="console">
      {!containerId && (
        <div class="hint">
          <p>No container yet. Chat with Code Interpreter on, or make one for the console:</p>
          <button type="button" onClick={() => void createContainer()}>
            Create a container
          </button>
        </div>
      )}
      {notice && (
        <p class="error" role="alert">
          {notice}
        </p>
      )}
      <div class="scroll" aria-live="polite">
        {containerId && cells.map((cell, i) => <CellView key={i} cell={cell} apiKey={apiKey} containerId={containerId} />)}
      </div>
      <form
        class="composer"
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
      >
        <div class="row">
          <label class="visually-hidden" for="console-code">
            Python code
          </label>
          <textarea
            id="console-code"
            class="mono"
            rows={4}
            placeholder="Python, run in the container (Ctrl+Enter runs)"
            value={code}
            disabled={!containerId}
            onInput={(e) => setCode(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
                e.preventDefault();
                void run();
              }
            }}
          />
          {busy ? (
            <button type="button" onClick={() => void cancel()}>
              Cancel
            </button>
          ) : (
            <button type="submit" class="primary" disabled={!containerId}>
              Run
            </button>
          )}
        </div>
      </form>
    </div>
  );
}
