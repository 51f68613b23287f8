import { describe, expect, it } from 'vitest'
import { cleanParameters, formatMs, splitThink } from './util'

describe('splitThink', () => {
  it('separates a leading think block from the answer', () => {
    expect(splitThink('<think>plan it</think>\n\nThe answer')).toEqual({ reasoning: 'plan it', answer: 'The answer' })
  })
  it('treats an unclosed block as reasoning still streaming', () => {
    expect(splitThink('<think>still thinking')).toEqual({ reasoning: 'still thinking', answer: '' })
  })
  it('leaves a plain answer alone', () => {
    expect(splitThink('No <think> here')).toEqual({ reasoning: null, answer: 'No <think> here' })
  })
})

describe('cleanParameters', () => {
  it('drops unset values so the model defaults apply', () => {
    expect(cleanParameters({ temperature: 0.2, top_p: null, max_tokens: undefined, stop: [], seed: 0 })).toEqual({
      temperature: 0.2,
      seed: 0,
    })
  })
})

describe('formatMs', () => {
  it('shows milliseconds under a second and seconds above', () => {
    expect(formatMs(12.4)).toBe('12 ms')
    expect(formatMs(1534)).toBe('1.53 s')
    expect(formatMs(null)).toBe('—')
  })
})
