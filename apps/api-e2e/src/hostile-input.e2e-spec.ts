import { randomBytes } from 'node:crypto';
import { baseUrl, client, expectOpenAIError, raw, storedObjectKeys } from './support/clients';

/**
 * Input no SDK would send. Each request must get a 4xx in OpenAI's error shape (never a 5xx, never a
 * hang), and none may leave anything behind.
 */
describe('hostile input', () => {
  const a = client('a');
  const marker = `hostile-${randomBytes(4).toString('hex')}`;
  let containerId: string;
  let objectsBefore: string[];

  beforeAll(async () => {
    containerId = (await a.containers.create({ name: `${marker}-target` })).id;
    objectsBefore = await storedObjectKeys();
  });

  const json = (body: string) => ({ body, headers: { 'content-type': 'application/json' } });
  // Paths and bodies are built when each case runs, once the target container exists.
  const cases: [string, string, () => string, () => Parameters<typeof raw>[2]][] = [
    ['JSON null', 'POST', () => '/v1/containers', () => (json('null'))],
    ['JSON array', 'POST', () => '/v1/containers', () => (json(`[{"name":"${marker}"}]`))],
    ['JSON string', 'POST', () => '/v1/containers', () => (json('"x"'))],
    ['truncated JSON', 'POST', () => '/v1/containers', () => (json(`{"name":"${marker}`))],
    ['number too large', 'POST', () => '/v1/containers', () => (json(`{"name":"${marker}","expires_after":{"anchor":"last_active_at","minutes":1e400}}`))],
    ['__proto__ key', 'POST', () => '/v1/containers', () => (json(`{"name":"${marker}","__proto__":{"admin":true}}`))],
    ['name of 100k chars', 'POST', () => '/v1/containers', () => ({ body: { name: 'n'.repeat(100_000) } })],
    ['file_ids of nulls', 'POST', () => '/v1/containers', () => ({ body: { name: marker, file_ids: [null] } })],
    ['wrong anchor', 'POST', () => '/v1/containers', () => ({ body: { name: marker, expires_after: { anchor: 'created_at', minutes: 5 } } })],
    ['JSON body sent as text/plain', 'POST', () => '/v1/containers', () => ({ body: `{"name":"${marker}"}`, headers: { 'content-type': 'text/plain' } })],
    ['body over the JSON limit', 'POST', () => '/v1/containers', () => (json(`{"name":"${marker}","pad":"${'p'.repeat(5 * 1024 * 1024)}"}`))],
    ['repeated limit', 'GET', () => '/v1/containers?limit=1&limit=2', () => ({})],
    ['limit not a number', 'GET', () => '/v1/files?limit=1e3', () => ({})],
    ['limit zero', 'GET', () => `/v1/containers/${containerId}/files?limit=0`, () => ({})],
    ['bad order', 'GET', () => '/v1/containers?order=random', () => ({})],
    ['path traversal id', 'GET', () => '/v1/containers/..%2F..%2Fetc%2Fpasswd', () => ({})],
    ['NUL in id', 'GET', () => '/v1/files/file-%00', () => ({})],
    ['5000-char id', 'DELETE', () => `/v1/files/${'f'.repeat(5000)}`, () => ({})],
    ['unknown method', 'PUT', () => '/v1/containers', () => ({ body: { name: marker } })],
    ['Basic auth', 'GET', () => '/v1/containers', () => ({ key: null, headers: { authorization: 'Basic YTpi' } })],
    ['empty bearer', 'GET', () => '/v1/containers', () => ({ key: null, headers: { authorization: 'Bearer ' } })],
    ['multipart without boundary', 'POST', () => '/v1/files', () => ({ body: 'garbage', headers: { 'content-type': 'multipart/form-data' } })],
    ['multipart cut short', 'POST', () => '/v1/files', () => ({ body: `--xx\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n--xx\r\nContent-Disposition: form-data; name="file"; filename="${marker}.txt"\r\n\r\nabc`, headers: { 'content-type': 'multipart/form-data; boundary=xx' } })],
    ['file field without a name', 'POST', () => `/v1/containers/${containerId}/files`, () => ({ body: '--xx\r\nContent-Disposition: form-data; name="file"; filename=""\r\n\r\nabc\r\n--xx--\r\n', headers: { 'content-type': 'multipart/form-data; boundary=xx' } })],
    ['file_id of another type', 'POST', () => `/v1/containers/${containerId}/files`, () => ({ body: { file_id: containerId } })],
    ['execution with code array', 'POST', () => `/v1/containers/${containerId}/executions`, () => ({ body: { code: ['print(1)'] } })],
    ['execution with float timeout', 'POST', () => `/v1/containers/${containerId}/executions`, () => ({ body: { code: '1', timeout_ms: 1.5 } })],
    ['execution with code over 1 MB', 'POST', () => `/v1/containers/${containerId}/executions`, () => ({ body: { code: '#'.repeat(1_000_001) } })],
    ['execution of an unknown container', 'POST', () => '/v1/containers/cntr_0000/executions', () => ({ body: { code: '1' } })],
    ['unknown execution id', 'GET', () => `/v1/containers/${containerId}/executions/exec_%2e%2e`, () => ({})],
  ];

  it.each(cases)('%s: a 4xx in OpenAI shape', async (_name, method, path, init) => {
    const res = await raw(method, path(), init());
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expectOpenAIError(res.json);
  });

  it('left nothing behind: no container, file or container file was created', async () => {
    const containers = [];
    for await (const c of a.containers.list({ limit: 100 })) if (c.name.startsWith(marker)) containers.push(c.id);
    expect(containers).toEqual([containerId]);
    const cfiles = [];
    for await (const f of a.containers.files.list(containerId)) cfiles.push(f.path);
    expect(cfiles).toEqual([]);
    const files = [];
    for await (const f of a.files.list()) if (f.filename === `${marker}.txt`) files.push(f.id);
    expect(files).toEqual([]);
    // No blob, whole or partial, was left in S3 by the uploads that failed midway.
    expect(await storedObjectKeys()).toEqual(objectsBefore);
  });

  it('the api still serves normally afterwards', async () => {
    const res = await fetch(`${baseUrl()}/health`);
    expect(res.status).toBe(200);
    expect((await a.containers.retrieve(containerId)).status).toBe('running');
  });
});
