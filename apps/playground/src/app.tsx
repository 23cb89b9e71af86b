import { useEffect, useState } from 'preact/hooks';
import { clientFor, describeError } from './api';
import { ChatView } from './chat';
import { ConsoleView } from './console';
import { ContainerPanel } from './container-panel';
import { containerOf, type Turn } from './conversation';

/** The key stays in this browser: localStorage, sent only to this origin's api. */
const KEY_STORAGE = 'cibox.playground.apiKey';
const MODEL_STORAGE = 'cibox.playground.model';

function stored(name: string): string {
  try {
    return localStorage.getItem(name) ?? '';
  } catch {
    return '';
  }
}

function store(name: string, value: string): void {
  try {
    if (value) localStorage.setItem(name, value);
    else localStorage.removeItem(name);
  } catch {
    // Storage disabled (private mode): the page still works for this visit.
  }
}

type Tab = 'chat' | 'console';

export function App() {
  const [apiKey, setApiKey] = useState(() => stored(KEY_STORAGE));
  const [models, setModels] = useState<string[]>([]);
  const [model, setModel] = useState(() => stored(MODEL_STORAGE));
  const [modelsError, setModelsError] = useState<string | null>(null);
  const [modelsReload, setModelsReload] = useState(0);
  const [codeInterpreter, setCodeInterpreter] = useState(true);
  const [tab, setTab] = useState<Tab>('chat');
  const [turns, setTurns] = useState<Turn[]>([]);
  const [consoleContainer, setConsoleContainer] = useState<string | null>(null);
  const [refreshKey, setRefreshKey] = useState(0);
  const containerId = containerOf(turns) ?? consoleContainer;

  useEffect(() => store(KEY_STORAGE, apiKey), [apiKey]);
  useEffect(() => store(MODEL_STORAGE, model), [model]);

  useEffect(() => {
    setModelsError(null);
    if (!apiKey) return setModels([]);
    let live = true;
    (async () => {
      const ids: string[] = [];
      for await (const m of clientFor(apiKey).models.list()) ids.push(m.id);
      if (!live) return;
      setModels(ids.sort());
      if (ids.length && !ids.includes(model)) setModel(ids[0]!);
    })().catch((err: unknown) => {
      if (!live) return;
      setModels([]);
      setModelsError(describeError(err));
    });
    return () => {
      live = false;
    };
    // `model` is only read, to keep a choice that is still listed: not a reason to list again.
  }, [apiKey, modelsReload]);

  const newConversation = () => {
    setTurns([]);
    setConsoleContainer(null);
  };
  const settled = () => setRefreshKey((n) => n + 1);

  return (
    <div class="app">
      <header class="top">
        <h1>cibox playground</h1>
        <div class="settings">
          <div class="field">
            <label for="api-key">API key</label>
            <input
              id="api-key"
              type="password"
              autocomplete="off"
              spellcheck={false}
              placeholder="sk-…"
              value={apiKey}
              onChange={(e) => setApiKey(e.currentTarget.value.trim())}
            />
          </div>
          <div class="field">
            <label for="model">Model</label>
            <select id="model" value={model} onChange={(e) => setModel(e.currentTarget.value)} disabled={models.length === 0}>
              {models.length === 0 && <option value="">{apiKey ? 'no models' : 'paste a key'}</option>}
              {models.map((id) => (
                <option key={id} value={id}>
                  {id}
                </option>
              ))}
            </select>
            <button type="button" class="small" onClick={() => setModelsReload((n) => n + 1)} disabled={!apiKey} aria-label="Reload the list of models">
              ↻
            </button>
          </div>
          <label class="toggle">
            <input type="checkbox" checked={codeInterpreter} onChange={(e) => setCodeInterpreter(e.currentTarget.checked)} />
            <span>Code Interpreter</span>
          </label>
          <button type="button" onClick={newConversation}>
            New conversation
          </button>
        </div>
        {modelsError && (
          <p class="error" role="alert">
            {modelsError}
          </p>
        )}
      </header>
      <main class="layout">
        <section class="work">
          <div class="tabs" role="tablist" aria-label="Mode">
            {(['chat', 'console'] as const).map((name) => (
              <button
                key={name}
                type="button"
                role="tab"
                id={`tab-${name}`}
                aria-selected={tab === name}
                aria-controls={`panel-${name}`}
                onClick={() => setTab(name)}
              >
                {name === 'chat' ? 'Chat' : 'Console'}
              </button>
            ))}
          </div>
          {/* Both stay mounted, so a streaming answer or cell goes on while the other tab is shown. */}
          <div role="tabpanel" id="panel-chat" aria-labelledby="tab-chat" hidden={tab !== 'chat'} class="tabpanel">
            <ChatView settings={{ apiKey, model, codeInterpreter }} turns={turns} setTurns={setTurns} containerId={containerId} onSettled={settled} />
          </div>
          <div role="tabpanel" id="panel-console" aria-labelledby="tab-console" hidden={tab !== 'console'} class="tabpanel">
            <ConsoleView key={containerId ?? 'none'} apiKey={apiKey} containerId={containerId} onContainer={setConsoleContainer} onSettled={settled} />
          </div>
        </section>
        <ContainerPanel apiKey={apiKey} containerId={containerId} refreshKey={refreshKey} />
      </main>
    </div>
  );
}
