import { useEffect, useState } from 'preact/hooks';
import type { ContainerRetrieveResponse } from 'openai/resources/containers/containers';
import type { FileListResponse } from 'openai/resources/containers/files/files';
import { clientFor, describeError, downloadContainerFile } from './api';

interface Props {
  apiKey: string;
  containerId: string | null;
  /** Changes whenever the container may have changed (a response or a console cell ended). */
  refreshKey: number;
}

const basename = (path: string) => path.slice(path.lastIndexOf('/') + 1);

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** When an idle container expires: `expires_after.minutes` after its last activity. */
function expiryOf(container: ContainerRetrieveResponse): string {
  if (container.status === 'expired') return 'expired';
  const minutes = container.expires_after?.minutes;
  if (!minutes || !container.last_active_at) return 'unknown';
  const at = new Date((container.last_active_at + minutes * 60) * 1000);
  const left = Math.max(0, Math.round((at.getTime() - Date.now()) / 60_000));
  return `${at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })} (in ${left} min, ${minutes} min after last use)`;
}

/** The conversation's container: what it is, when it expires, and its files (download, delete). */
export function ContainerPanel({ apiKey, containerId, refreshKey }: Props) {
  const [container, setContainer] = useState<ContainerRetrieveResponse | null>(null);
  const [files, setFiles] = useState<FileListResponse[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    setError(null);
    if (!containerId || !apiKey) {
      setContainer(null);
      setFiles([]);
      return;
    }
    let live = true;
    const client = clientFor(apiKey);
    (async () => {
      const found = await client.containers.retrieve(containerId);
      const listed: FileListResponse[] = [];
      // An expired container is still readable, but its files are not: show what it is and why.
      if (found.status !== 'expired') for await (const file of client.containers.files.list(containerId, { limit: 100 })) listed.push(file);
      if (!live) return;
      setContainer(found);
      setFiles(listed);
    })().catch((err: unknown) => live && setError(describeError(err)));
    return () => {
      live = false;
    };
  }, [apiKey, containerId, refreshKey, reload]);

  async function remove(file: FileListResponse) {
    try {
      await clientFor(apiKey).containers.files.delete(file.id, { container_id: file.container_id });
      setReload((n) => n + 1);
    } catch (err) {
      setError(describeError(err));
    }
  }

  async function download(file: FileListResponse) {
    try {
      await downloadContainerFile(clientFor(apiKey), file.container_id, file.id, basename(file.path));
    } catch (err) {
      setError(describeError(err));
    }
  }

  return (
    <aside class="panel" aria-labelledby="panel-title">
      <div class="panel-head">
        <h2 id="panel-title">Container</h2>
        <button type="button" class="small" onClick={() => setReload((n) => n + 1)} disabled={!containerId}>
          Refresh
        </button>
      </div>
      {!containerId && <p class="hint">None yet: one is made when code first runs.</p>}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {container && (
        <dl class="facts" data-testid="container-facts">
          <dt>Id</dt>
          <dd class="mono">{container.id}</dd>
          <dt>Status</dt>
          <dd>{container.status}</dd>
          <dt>Memory</dt>
          <dd>{container.memory_limit ?? '1g'}</dd>
          <dt>Expires</dt>
          <dd>{expiryOf(container)}</dd>
        </dl>
      )}
      {container && (
        <>
          <h3>Files</h3>
          {files.length === 0 ? (
            <p class="hint">No files.</p>
          ) : (
            <ul class="files" data-testid="container-files">
              {files.map((file) => (
                <li key={file.id}>
                  <span class="name" title={file.path}>
                    {basename(file.path)}
                  </span>
                  <span class="size">{formatBytes(file.bytes)}</span>
                  <span class="actions">
                    <button type="button" class="small" aria-label={`Download ${basename(file.path)}`} onClick={() => void download(file)}>
                      Download
                    </button>
                    <button type="button" class="small" aria-label={`Delete ${basename(file.path)}`} onClick={() => void remove(file)}>
                      Delete
                    </button>
                  </span>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </aside>
  );
}
