import { toFile } from 'openai';
import { OPENAI_PYTHON_VERSION } from '@cibox/testing';
import { client } from './support/clients';
import { python } from './support/python';

const LIST_FILES = `
import json, openai
client = openai.OpenAI(max_retries=0)
print(json.dumps({"version": openai.__version__, "ids": [f.id for f in client.files.list()]}))
`;

describe('the official Python client', () => {
  it(`(openai ${OPENAI_PYTHON_VERSION}) lists the files of its own key, and only those`, async () => {
    const mine = await client('a').files.create({ file: await toFile(Buffer.from('python sees me'), 'py-client.txt'), purpose: 'assistants' });
    const theirs = await client('b').files.create({ file: await toFile(Buffer.from('not for a'), 'py-client-b.txt'), purpose: 'assistants' });
    const a = await python(LIST_FILES, process.env.CIBOX_KEY_A!);
    expect(a.version).toBe(OPENAI_PYTHON_VERSION);
    expect(a.ids).toContain(mine.id);
    expect(a.ids).not.toContain(theirs.id);
  });

  it('gets an AuthenticationError (401) for a wrong key', async () => {
    const out = await python(
      `
import json, openai
try:
    openai.OpenAI(max_retries=0).files.list()
    print(json.dumps({"raised": None}))
except openai.AuthenticationError as e:
    print(json.dumps({"raised": type(e).__name__, "status": e.status_code, "code": e.code}))
`,
      'sk-not-a-key',
    );
    expect(out).toEqual({ raised: 'AuthenticationError', status: 401, code: 'invalid_api_key' });
  });
});
