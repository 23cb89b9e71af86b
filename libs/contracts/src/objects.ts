/** Wire objects, field for field as the official `openai` SDK types them. */

/** Purposes a client may upload a file with. */
export const FILE_PURPOSES = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'] as const;
/** Every purpose a file may have: the uploadable ones, and `batch_output` for the files a batch writes. */
export type FilePurpose = (typeof FILE_PURPOSES)[number] | 'batch_output';

export interface FileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  expires_at?: number | null;
  filename: string;
  purpose: FilePurpose;
  status: 'processed';
}

export const MEMORY_LIMITS = ['1g', '4g', '16g', '64g'] as const;
export type MemoryLimit = (typeof MEMORY_LIMITS)[number];

/**
 * Bytes of each memory tier: a sandbox's Docker memory limit, and what it reserves on its worker.
 * (`satisfies` checks that every tier is here.)
 */
export const MEMORY_TIER_BYTES: Record<string, number> = {
  '1g': 1024 ** 3,
  '4g': 4 * 1024 ** 3,
  '16g': 16 * 1024 ** 3,
  '64g': 64 * 1024 ** 3,
} satisfies Record<MemoryLimit, number>;

export interface ContainerObject {
  id: string;
  object: 'container';
  created_at: number;
  status: 'running' | 'expired';
  expires_after: { anchor: 'last_active_at'; minutes: number };
  last_active_at: number;
  memory_limit: MemoryLimit;
  name: string;
}

export type ContainerFileSource = 'user' | 'assistant';

export interface ContainerFileObject {
  id: string;
  object: 'container.file';
  created_at: number;
  bytes: number;
  container_id: string;
  path: string;
  source: ContainerFileSource;
  /** Our extension (OpenAI's object has only `path`): the last segment of `path`. */
  filename: string;
}

export interface ListEnvelope<T> {
  object: 'list';
  data: T[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

export const CONTAINER_DATA_DIR = '/mnt/data';

/** The file name of a container file: the last segment of its path. */
export function containerFileName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
