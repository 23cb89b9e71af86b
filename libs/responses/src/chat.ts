import type { ChatChunk, ChatRequest } from '@cibox/model';

export type { ChatChunk, ChatContentPart, ChatFunctionTool, ChatMessage, ChatRequest, ChatToolCall, ChatToolChoice, ChatUsage } from '@cibox/model';

/** The model upstream, as the loop sees it: a streamed Chat Completions call. */
export type ModelStream = (request: ChatRequest, signal: AbortSignal) => AsyncIterable<ChatChunk>;
