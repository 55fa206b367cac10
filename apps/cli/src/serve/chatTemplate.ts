import { badRequest } from './httpError.js';

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

const roles = new Set(['system', 'user', 'assistant', 'developer', 'tool']);

/**
 * The plain chat template `recur serve` uses (small story models such as stories260K ship none):
 * one "role: content" line per message, then "assistant:" for the model to continue, e.g.
 * "user: Tell me a story.\nassistant:".
 */
export function formatChat(messages: readonly ChatMessage[]): string {
  return [...messages.map((m) => `${m.role}: ${m.content}`), 'assistant:'].join('\n');
}

/** `messages` of a chat request: a non-empty array of {role, content} (content a string or text parts). */
export function parseMessages(raw: unknown): ChatMessage[] {
  if (!Array.isArray(raw) || raw.length === 0)
    throw badRequest('messages', '"messages" must be a non-empty array of {role, content}');
  return raw.map((m: unknown, i) => {
    if (typeof m !== 'object' || m === null)
      throw badRequest('messages', `messages[${i}] must be an object {role, content}`);
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || !roles.has(role))
      throw badRequest('messages', `messages[${i}].role must be one of ${[...roles].join(', ')}`);
    return { role, content: messageText(content, i) };
  });
}

function messageText(content: unknown, i: number): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (Array.isArray(content)) {
    return content
      .map((part: unknown) => {
        const { type, text } = (part ?? {}) as { type?: unknown; text?: unknown };
        if (type !== 'text' || typeof text !== 'string')
          throw badRequest('messages', `messages[${i}].content parts must be {type: "text", text}`);
        return text;
      })
      .join('');
  }
  throw badRequest('messages', `messages[${i}].content must be a string or an array of text parts`);
}
