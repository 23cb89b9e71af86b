import { ApiError } from '@cibox/contracts';
import { ChatCompletionsService } from './chat-completions.service';

// validate() needs only the model client's `configured()`; the rest is not touched.
const service = new ChatCompletionsService({} as never, { configured: () => true } as never, {} as never, {} as never, {} as never);
const body = (tools: unknown[]) => ({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], tools });

function rejection(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    return err as ApiError;
  }
  throw new Error('expected a rejection');
}

describe('ChatCompletionsService.validate', () => {
  it("accepts another provider's built-in tools next to code_interpreter", () => {
    const parsed = service.validate(body([{ type: 'web_search' }, { type: 'code_interpreter' }, { type: 'file_search', vector_store_ids: ['vs_1'] }]));
    expect(parsed.tools.map((t) => t.type)).toEqual(['web_search', 'code_interpreter', 'file_search']);
  });

  it.each(['custom', 'browser', 'code_interpreter_v2'])("refuses the tool type '%s' with a 400 naming it", (type) => {
    const err = rejection(() => service.validate(body([{ type: 'code_interpreter' }, { type }])));
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(400);
    expect(err.param).toBe('tools[1].type');
    expect(err.code).toBe('unsupported_tool');
    expect(err.message).toContain(`'${type}' is not supported`);
    expect(err.message).toContain("ignores 'web_search'");
  });
});
