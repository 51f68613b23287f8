// Server-sent events over fetch: unlike EventSource it can send the bearer token and a
// POST body, and it lets the caller stop a stream by aborting.
import { authorizedFetch, buildUrl, type Query } from './client'
import { problemFrom } from './problem'

export interface SseMessage {
  event: string
  data: string
  id: string | null
}

/** Incremental parser of the text/event-stream format (WHATWG HTML §9.2.6). */
export class SseParser {
  private buffer = ''
  private event = ''
  private data: string[] = []
  private id: string | null = null
  lastEventId: string | null = null

  push(chunk: string): SseMessage[] {
    this.buffer += chunk
    const out: SseMessage[] = []
    let newline: number
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, newline)
      const width = this.buffer.startsWith('\r\n', newline) ? 2 : 1
      // A lone '\r' at the end may be the first half of '\r\n': wait for more.
      if (width === 1 && this.buffer[newline] === '\r' && newline === this.buffer.length - 1) break
      this.buffer = this.buffer.slice(newline + width)
      const message = this.line(line)
      if (message) out.push(message)
    }
    return out
  }

  private line(line: string): SseMessage | null {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = ''
        return null
      }
      const message = { event: this.event || 'message', data: this.data.join('\n'), id: this.id }
      this.event = ''
      this.data = []
      return message
    }
    if (line.startsWith(':')) return null
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') this.event = value
    else if (field === 'data') this.data.push(value)
    else if (field === 'id' && !value.includes('\0')) {
      this.id = value
      this.lastEventId = value
    }
    return null
  }
}

export interface StreamOptions {
  method?: 'GET' | 'POST'
  body?: unknown
  query?: Query
  lastEventId?: string | null
  signal?: AbortSignal
  onMessage: (message: SseMessage) => void
  onOpen?: (response: Response) => void
}

/** Read one SSE response to its end; resolves with the last event id seen. */
export async function streamSse(path: string, options: StreamOptions): Promise<string | null> {
  const headers: Record<string, string> = { accept: 'text/event-stream' }
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  if (options.lastEventId) headers['last-event-id'] = options.lastEventId
  const response = await authorizedFetch(buildUrl(path, options.query), {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: options.signal,
  })
  if (!response.ok || !response.body) throw await problemFrom(response)
  options.onOpen?.(response)
  const parser = new SseParser()
  parser.lastEventId = options.lastEventId ?? null
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      for (const message of parser.push(value)) options.onMessage(message)
    }
  } finally {
    reader.releaseLock()
  }
  return parser.lastEventId
}

/**
 * Follow a long-lived feed (events, job progress, indexing status): reconnect with
 * Last-Event-ID after a drop, with a capped backoff, until the signal aborts.
 */
export async function followSse(path: string, options: StreamOptions & { signal: AbortSignal }): Promise<void> {
  let lastEventId = options.lastEventId ?? null
  let delay = 500
  while (!options.signal.aborted) {
    try {
      lastEventId = await streamSse(path, {
        ...options,
        lastEventId,
        onOpen: (r) => {
          delay = 500
          options.onOpen?.(r)
        },
      })
    } catch (error) {
      if (options.signal.aborted) return
      const status = (error as { status?: number }).status
      if (status !== undefined && status >= 400 && status < 500) throw error
    }
    if (options.signal.aborted) return
    await new Promise((resolve) => setTimeout(resolve, delay))
    delay = Math.min(delay * 2, 10_000)
  }
}

export function parseJson<T>(message: SseMessage): T {
  return JSON.parse(message.data) as T
}
