import { toContainerFileObject, type ContainerFileRecord } from './repositories';

describe('toContainerFileObject', () => {
  const record: ContainerFileRecord = {
    id: 'cfile_1',
    tenant: 'tn_secret',
    container_id: 'cntr_1',
    path: '/mnt/data/charts/plot 1.png',
    bytes: 10,
    created_at: 1,
    source: 'assistant',
    object_key: 'tn_secret/cntr_1/cfile_1',
  };

  it("adds `filename`, our extension, as the last segment of the path", () => {
    expect(toContainerFileObject(record).filename).toBe('plot 1.png');
    expect(toContainerFileObject({ ...record, path: '/mnt/data/data.csv' }).filename).toBe('data.csv');
  });

  it('returns OpenAI\'s fields and `filename`, never the tenant or the object key', () => {
    expect(toContainerFileObject(record)).toEqual({
      id: 'cfile_1',
      object: 'container.file',
      created_at: 1,
      bytes: 10,
      container_id: 'cntr_1',
      path: '/mnt/data/charts/plot 1.png',
      source: 'assistant',
      filename: 'plot 1.png',
    });
  });
});
