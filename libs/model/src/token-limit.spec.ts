import { withTokenLimitField } from './http-model-client';

describe('withTokenLimitField', () => {
  const body = { model: 'm', messages: [], max_tokens: 50 };
  it("sends max_completion_tokens to OpenAI's own API", () => {
    expect(withTokenLimitField(body, { baseUrl: 'https://api.openai.com/v1' })).toEqual({ model: 'm', messages: [], max_completion_tokens: 50 });
  });
  it('keeps max_tokens for other servers (vLLM, Ollama, llama.cpp)', () => {
    expect(withTokenLimitField(body, { baseUrl: 'http://127.0.0.1:11434/v1' })).toBe(body);
  });
  it('leaves a request without a limit alone', () => {
    const none = { model: 'm', messages: [] };
    expect(withTokenLimitField(none, { baseUrl: 'https://api.openai.com/v1' })).toBe(none);
  });
});
