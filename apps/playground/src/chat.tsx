import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { ResponseInputContent, Tool } from 'openai/resources/responses/responses';
import { clientFor, describeError, downloadContainerFile } from './api';
import { applyEvent, newAssistantTurn, type AssistantTurn, type Citation, type Turn } from './conversation';
import { TurnView } from './turn-view';

export interface ChatSettings {
  apiKey: string;
  model: string;
  codeInterpreter: boolean;
}

interface Props {
  settings: ChatSettings;
  turns: Turn[];
  setTurns: (update: (turns: Turn[]) => Turn[]) => void;
  /** The conversation's container, once code has run (or the console made one). */
  containerId: string | null;
  /** Called when a response ends, so the container panel can refresh. */
  onSettled: () => void;
}

/** The last response a follow-up can continue: the newest that finished. */
function previousResponseId(turns: Turn[]): string | undefined {
  for (const turn of [...turns].reverse()) {
    if (turn.role === 'assistant' && turn.responseId && (turn.status === 'completed' || turn.status === 'incomplete')) return turn.responseId;
  }
  return undefined;
}

/** Keeps a scrolled list pinned to its bottom while it grows, unless the reader scrolled up. */
function useStickToBottom(deps: unknown[]) {
  const ref = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, deps);
  const onScroll = () => {
    const el = ref.current;
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
  };
  return { ref, onScroll };
}

export function ChatView({ settings, turns, setTurns, containerId, onSettled }: Props) {
  const [text, setText] = useState('');
  const [files, setFiles] = useState<File[]>([]);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const list = useStickToBottom([turns]);

  const updateLast = (change: (turn: AssistantTurn) => AssistantTurn) =>
    setTurns((all) => {
      const last = all[all.length - 1];
      return last?.role === 'assistant' ? [...all.slice(0, -1), change(last)] : all;
    });

  async function send() {
    const prompt = text.trim();
    if (!prompt || busy) return;
    if (!settings.apiKey) return setNotice('Paste an API key first.');
    if (!settings.model) return setNotice('Pick a model first.');
    setNotice(null);
    const attached = files;
    const previous = previousResponseId(turns);
    setTurns((all) => [...all, { role: 'user', text: prompt, files: attached.map((f) => f.name) }, newAssistantTurn()]);
    setText('');
    setFiles([]);
    setBusy(true);
    const controller = new AbortController();
    abort.current = controller;
    try {
      const client = clientFor(settings.apiKey);
      const uploaded = await Promise.all(attached.map((file) => client.files.create({ file, purpose: 'user_data' }, { signal: controller.signal })));
      const content: ResponseInputContent[] = [{ type: 'input_text', text: prompt }, ...uploaded.map((f) => ({ type: 'input_file' as const, file_id: f.id }))];
      // Once the conversation has a container, name it: the same sandbox (files, variables) answers
      // the follow-up, and an expired one is an error to show rather than a silent new container.
      const tools: Tool[] = settings.codeInterpreter ? [{ type: 'code_interpreter', container: containerId ?? { type: 'auto' } }] : [];
      const stream = await client.responses.create(
        {
          model: settings.model,
          input: [{ role: 'user', content }],
          tools,
          include: ['code_interpreter_call.outputs'],
          previous_response_id: previous,
          stream: true,
        },
        { signal: controller.signal },
      );
      for await (const event of stream) updateLast((turn) => applyEvent(turn, event));
    } catch (err) {
      updateLast((turn) => ({ ...turn, status: 'failed', error: describeError(err) }));
    } finally {
      updateLast((turn) => (turn.status === 'in_progress' ? { ...turn, status: 'cancelled', error: turn.error ?? 'The stream ended early.' } : turn));
      abort.current = null;
      setBusy(false);
      onSettled();
    }
  }

  async function download(citation: Citation) {
    try {
      await downloadContainerFile(clientFor(settings.apiKey), citation.containerId, citation.fileId, citation.filename);
    } catch (err) {
      setNotice(`Downloading ${citation.filename} failed. ${describeError(err)}`);
    }
  }

  return (
    <div class="chat">
      <div class="scroll" ref={list.ref} onScroll={list.onScroll} aria-live="polite">
        {turns.length === 0 && <p class="hint">Ask for something that needs code: a chart, a sum over a CSV you attach, a simulation.</p>}
        {turns.map((turn, i) => (
          <TurnView key={i} turn={turn} onDownload={(c) => void download(c)} />
        ))}
      </div>
      {notice && (
        <p class="error" role="alert">
          {notice}
        </p>
      )}
      <form
        class="composer"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        {files.length > 0 && (
          <ul class="chips" aria-label="Files to attach">
            {files.map((file, i) => (
              <li key={`${file.name}-${i}`} class="chip">
                {file.name}
                <button type="button" class="link" aria-label={`Remove ${file.name}`} onClick={() => setFiles(files.filter((_, j) => j !== i))}>
                  ×
                </button>
              </li>
            ))}
          </ul>
        )}
        <div class="row">
          <label class="visually-hidden" for="prompt">
            Message
          </label>
          <textarea
            id="prompt"
            rows={2}
            placeholder="Message (Enter sends, Shift+Enter: new line)"
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
                e.preventDefault();
                void send();
              }
            }}
          />
          <input
            ref={fileInput}
            type="file"
            multiple
            hidden
            data-testid="attach-input"
            onChange={(e) => {
              const chosen = Array.from(e.currentTarget.files ?? []);
              setFiles([...files, ...chosen]);
              e.currentTarget.value = '';
            }}
          />
          <button type="button" onClick={() => fileInput.current?.click()} aria-label="Attach files">
            Attach
          </button>
          {busy ? (
            <button type="button" onClick={() => abort.current?.abort()}>
              Stop
            </button>
          ) : (
            <button type="submit" class="primary">
              Send
            </button>
          )}
        </div>
      </form>
    </div>
  );
}
