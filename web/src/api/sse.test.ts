import { describe, expect, it } from 'vitest'
import { SseParser } from './sse'

describe('SseParser', () => {
  it('joins multi-line data and keeps the event name and id', () => {
    const parser = new SseParser()
    const out = parser.push('event: content\nid: 7\ndata: a\ndata: b\n\n')
    expect(out).toEqual([{ event: 'content', data: 'a\nb', id: '7' }])
    expect(parser.lastEventId).toBe('7')
  })

  it('handles frames split anywhere, CRLF and comments', () => {
    const text = ': ping\r\n\r\nevent: usage\r\ndata: {"x":1}\r\n\r\ndata: plain\n\n'
    for (let cut = 0; cut < text.length; cut++) {
      const parser = new SseParser()
      const out = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))]
      expect(out.map((m) => [m.event, m.data])).toEqual([
        ['usage', '{"x":1}'],
        ['message', 'plain'],
      ])
    }
  })
})
