import type { Annotation } from './wire';

/** A file the response's code created or changed, which the answer may cite. */
export interface CitableFile {
  containerId: string;
  fileId: string;
  /** Absolute path in the sandbox, e.g. /mnt/data/chart.png. */
  path: string;
}

/**
 * One `container_file_citation` per mention of a cited file in `text`: `sandbox:/mnt/data/x.png`
 * (the markdown link models write) or a bare `/mnt/data/x.png`. The indexes cover the mention,
 * `sandbox:` included, in UTF-16 code units, as the SDKs index strings.
 */
export function citeFiles(text: string, files: readonly CitableFile[]): Annotation[] {
  if (files.length === 0) return [];
  // Longest first, so /mnt/data/a.png.txt is not cited as /mnt/data/a.png.
  const byPath = [...new Map(files.map((f) => [f.path, f])).values()].sort((a, b) => b.path.length - a.path.length);
  const annotations: Annotation[] = [];
  const taken: [number, number][] = [];
  for (const file of byPath) {
    for (let at = text.indexOf(file.path); at !== -1; at = text.indexOf(file.path, at + 1)) {
      const end = at + file.path.length;
      // A mention ends where the path does: not inside a longer name.
      if (end < text.length && /[\w.-]/.test(text[end]!) && !/^\.[\s)\]"'`,;:!?]|^\.$/.test(text.slice(end, end + 2))) continue;
      const start = text.slice(Math.max(0, at - 8), at) === 'sandbox:' ? at - 8 : at;
      if (taken.some(([s, e]) => start < e && end > s)) continue;
      taken.push([start, end]);
      annotations.push({
        type: 'container_file_citation',
        container_id: file.containerId,
        file_id: file.fileId,
        filename: file.path.slice(file.path.lastIndexOf('/') + 1),
        start_index: start,
        end_index: end,
      });
    }
  }
  return annotations.sort((a, b) => a.start_index - b.start_index);
}
