import { citeFiles } from './citations';

const chart = { containerId: 'cntr_1', fileId: 'cfile_1', path: '/mnt/data/chart.png' };
const data = { containerId: 'cntr_1', fileId: 'cfile_2', path: '/mnt/data/chart.png.csv' };

describe('citeFiles', () => {
  it('cites a markdown sandbox link, indexes covering sandbox:/mnt/data/…', () => {
    const text = 'Here it is: [chart](sandbox:/mnt/data/chart.png).';
    const [a, ...rest] = citeFiles(text, [chart]);
    expect(rest).toEqual([]);
    expect(a).toMatchObject({ type: 'container_file_citation', container_id: 'cntr_1', file_id: 'cfile_1', filename: 'chart.png' });
    expect(text.slice(a!.start_index, a!.end_index)).toBe('sandbox:/mnt/data/chart.png');
  });

  it('cites bare paths, every mention, in text order, with a sentence-ending period allowed', () => {
    const text = 'Saved /mnt/data/chart.png. See /mnt/data/chart.png again';
    const found = citeFiles(text, [chart]);
    expect(found.map((a) => text.slice(a.start_index, a.end_index))).toEqual(['/mnt/data/chart.png', '/mnt/data/chart.png']);
    expect(found[0]!.start_index).toBeLessThan(found[1]!.start_index);
  });

  it('does not cite a path inside a longer name, and prefers the longest match', () => {
    const text = 'Data in /mnt/data/chart.png.csv and /mnt/data/chart.pngx';
    const found = citeFiles(text, [chart, data]);
    expect(found).toHaveLength(1);
    expect(found[0]!.file_id).toBe('cfile_2');
  });

  it('counts indexes in UTF-16 code units, as the SDKs do', () => {
    const text = '😀 é /mnt/data/chart.png';
    const [a] = citeFiles(text, [chart]);
    expect(a!.start_index).toBe(text.indexOf('/mnt'));
  });

  it('cites nothing when no file was made', () => {
    expect(citeFiles('/mnt/data/chart.png', [])).toEqual([]);
  });
});
