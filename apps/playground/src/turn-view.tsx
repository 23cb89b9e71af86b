import type { AssistantTurn, CodeItem, Citation, TextItem, Turn } from './conversation';
import { segmentsOf } from './conversation';

const CODE_STATUS: Record<string, string> = {
  in_progress: 'writing code…',
  interpreting: 'running…',
  completed: 'ran',
  failed: 'failed',
  incomplete: 'stopped',
};

function CodeCall({ item }: { item: CodeItem }) {
  const running = item.status === 'in_progress' || item.status === 'interpreting';
  return (
    <details class="code-call" open data-status={item.status}>
      <summary>
        <span>Code interpreter</span>
        <span class={`badge ${running ? 'busy' : item.status}`}>{CODE_STATUS[item.status] ?? item.status}</span>
      </summary>
      <pre class="code" data-testid="code" aria-label="Code">
        <code>{item.code}</code>
      </pre>
      {item.outputs?.map((output, i) =>
        output.type === 'logs' ? (
          <pre key={i} class="logs" data-testid="logs" aria-label="Output">
            {output.logs}
          </pre>
        ) : (
          <figure key={i} class="figure">
            {/* A signed link: the browser loads it without the key. */}
            <img src={output.url} alt="Figure made by the code" data-testid="figure" loading="lazy" />
          </figure>
        ),
      )}
    </details>
  );
}

function Answer({ item, onDownload }: { item: TextItem; onDownload: (citation: Citation) => void }) {
  return (
    <div class="answer" data-testid="answer">
      {segmentsOf(item).map((segment, i) =>
        'citation' in segment ? (
          <a
            key={i}
            href="#"
            class="citation"
            title={`Download ${segment.citation.filename}`}
            data-file-id={segment.citation.fileId}
            onClick={(e) => {
              e.preventDefault();
              onDownload(segment.citation);
            }}
          >
            {segment.citation.filename}
          </a>
        ) : (
          <span key={i}>{segment.text}</span>
        ),
      )}
    </div>
  );
}

function AssistantView({ turn, onDownload }: { turn: AssistantTurn; onDownload: (citation: Citation) => void }) {
  const shown = turn.items.filter((item) => item !== undefined);
  return (
    <article class="turn assistant" aria-busy={turn.status === 'in_progress'} data-status={turn.status}>
      {shown.map((item) => (item.kind === 'code' ? <CodeCall key={item.id} item={item} /> : <Answer key={item.id} item={item} onDownload={onDownload} />))}
      {turn.status === 'in_progress' && shown.length === 0 && <p class="pending">Waiting for the model…</p>}
      {turn.error && (
        <p class="error" role="alert">
          {turn.error}
        </p>
      )}
    </article>
  );
}

/** One turn of the conversation: the person's message, or everything a response streamed. */
export function TurnView({ turn, onDownload }: { turn: Turn; onDownload: (citation: Citation) => void }) {
  if (turn.role === 'assistant') return <AssistantView turn={turn} onDownload={onDownload} />;
  return (
    <article class="turn user">
      <p>{turn.text}</p>
      {turn.files.length > 0 && (
        <ul class="chips" aria-label="Attached files">
          {turn.files.map((name) => (
            <li key={name} class="chip">
              {name}
            </li>
          ))}
        </ul>
      )}
    </article>
  );
}
