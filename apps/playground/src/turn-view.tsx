import type { AssistantTurn, CodeItem, Citation, TextItem, Turn } from './conversation';
import { usableCitations } from './conversation';
import { parseBlocks, restorePlaceholders, withPlaceholders, type Block, type Inline } from './markdown';

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

function Inlines({ inlines, citations, onDownload }: { inlines: Inline[]; citations: Citation[]; onDownload: (citation: Citation) => void }) {
  return (
    <>
      {inlines.map((inline, i) => {
        switch (inline.kind) {
          case 'text':
            return inline.text;
          case 'code':
            return <code key={i}>{restorePlaceholders(inline.text, (n) => citations[n]?.filename ?? '')}</code>;
          case 'strong':
          case 'em': {
            const Tag = inline.kind;
            return (
              <Tag key={i}>
                <Inlines inlines={inline.children} citations={citations} onDownload={onDownload} />
              </Tag>
            );
          }
          case 'link':
            return (
              <a key={i} href={inline.href} target="_blank" rel="noopener noreferrer">
                <Inlines inlines={inline.children} citations={citations} onDownload={onDownload} />
              </a>
            );
          case 'citation': {
            const citation = citations[inline.index]!;
            return (
              <a
                key={i}
                href="#"
                class="citation"
                title={`Download ${citation.filename}`}
                data-file-id={citation.fileId}
                onClick={(e) => {
                  e.preventDefault();
                  onDownload(citation);
                }}
              >
                {citation.filename}
              </a>
            );
          }
        }
      })}
    </>
  );
}

function Blocks({ blocks, citations, onDownload }: { blocks: Block[]; citations: Citation[]; onDownload: (citation: Citation) => void }) {
  const inlines = (list: Inline[]) => <Inlines inlines={list} citations={citations} onDownload={onDownload} />;
  return (
    <>
      {blocks.map((block, i) => {
        switch (block.kind) {
          case 'paragraph':
            return <p key={i}>{inlines(block.inlines)}</p>;
          case 'heading': {
            // Headings inside an answer sit below the page's own: h3 at most.
            const Tag = `h${Math.min(6, block.level + 2)}` as 'h3';
            return <Tag key={i}>{inlines(block.inlines)}</Tag>;
          }
          case 'code':
            return (
              <pre key={i} class="code" data-lang={block.lang || undefined}>
                <code>{restorePlaceholders(block.text, (n) => citations[n]?.filename ?? '')}</code>
              </pre>
            );
          case 'list': {
            const items = block.items.map((item, j) => <li key={j}>{inlines(item)}</li>);
            return block.ordered ? (
              <ol key={i} start={block.start}>
                {items}
              </ol>
            ) : (
              <ul key={i}>{items}</ul>
            );
          }
          case 'quote':
            return (
              <blockquote key={i}>
                <Blocks blocks={block.blocks} citations={citations} onDownload={onDownload} />
              </blockquote>
            );
          case 'rule':
            return <hr key={i} />;
          case 'table':
            return (
              <div key={i} class="table-scroll">
                <table>
                  <thead>
                    <tr>
                      {block.head.map((cell, j) => (
                        <th key={j}>{inlines(cell)}</th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {block.rows.map((row, j) => (
                      <tr key={j}>
                        {row.map((cell, k) => (
                          <td key={k}>{inlines(cell)}</td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            );
        }
      })}
    </>
  );
}

/** The model's answer as Markdown, its file citations as download links. */
function Answer({ item, onDownload }: { item: TextItem; onDownload: (citation: Citation) => void }) {
  const citations = usableCitations(item);
  const blocks = parseBlocks(withPlaceholders(item.text, citations));
  return (
    <div class="answer" data-testid="answer">
      <Blocks blocks={blocks} citations={citations} onDownload={onDownload} />
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
