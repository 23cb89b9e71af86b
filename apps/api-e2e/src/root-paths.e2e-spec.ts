import OpenAI, { toFile } from 'openai';
import { baseUrl, expectOpenAIError, raw } from './support/clients';

describe('the API at the root as well as under /v1', () => {
  // As LiteLLM's gateway docs configure the Python SDK: base_url="http://localhost:4000", no /v1.
  const rootClient = () => new OpenAI({ apiKey: process.env.CIBOX_KEY_A!, baseURL: baseUrl(), maxRetries: 0 });

  it('serves containers, files and container files without /v1, through the SDK', async () => {
    const sdk = rootClient();
    const c = await sdk.containers.create({ name: 'root' });
    const file = await sdk.files.create({ file: await toFile(Buffer.from('a,b\n1,2\n'), 'in.csv'), purpose: 'user_data' });
    await sdk.containers.files.create(c.id, { file_id: file.id });
    // The seed's loop: list the container's files and save each under `file.filename`.
    const listed = (await sdk.containers.files.list(c.id)).data as (OpenAI.Containers.FileListResponse & { filename: string })[];
    expect(listed.map((f) => f.filename)).toEqual(['in.csv']);
    const content = await (await sdk.containers.files.content.retrieve(listed[0]!.id, { container_id: c.id })).text();
    expect(content).toBe('a,b\n1,2\n');
    expect((await sdk.containers.retrieve(c.id)).id).toBe(c.id);
  });

  it('keeps the query string and the answer the same as under /v1', async () => {
    const c = (await raw('POST', '/containers', { body: { name: 'root-raw' } })).json;
    expect(c.id).toMatch(/^cntr_/);
    const root = await raw('GET', `/containers?limit=1&name=root-raw`);
    const v1 = await raw('GET', `/v1/containers?limit=1&name=root-raw`);
    expect(root.status).toBe(200);
    expect(root.json).toEqual(v1.json);
    expect(root.json.data.map((x: { id: string }) => x.id)).toEqual([c.id]);
  });

  it('still requires a key at the root', async () => {
    const res = await raw('GET', '/containers', { key: null });
    expect(res.status).toBe(401);
    expectOpenAIError(res.json);
  });

  it('answers an unknown route at the root with the OpenAI 404, and health stays where it is', async () => {
    const unknown = await raw('GET', '/containersx');
    expect(unknown.status).toBe(404);
    expectOpenAIError(unknown.json);
    expect((await raw('GET', '/health', { key: null })).status).toBe(200);
    expect((await raw('GET', '/v1/health', { key: null })).status).toBe(404);
  });
});
