import { describe, expect, it } from 'vitest'
import { defaultFilters, emptyPairs, overrides, previewRequest, reviewedPairs, suggestedName } from './collect'
import { interval, percent, promptLines, rerunBody } from './evaluation'
import type { Pair, TrainDefaults } from './types'

function pair(id: string, over: Partial<Pair> = {}): Pair {
  return {
    id,
    source: 'chat',
    source_id: `m-${id}`,
    system: null,
    instruction: `Question ${id}`,
    input: '',
    output: `Answer ${id}`,
    model_alias: 'fake-chat',
    rating: 1,
    created_at: '2025-01-01T00:00:00Z',
    scrubbed: [],
    model_config_id: null,
    conversation_id: null,
    history: [],
    ...over,
  }
}

describe('previewRequest', () => {
  it('sends the defaults and leaves empty filters out', () => {
    expect(previewRequest(defaultFilters())).toEqual({
      sources: ['chat', 'compare'],
      rating: 'up',
      scrub: { emails: true, phones: true, secrets: true },
      limit: 500,
      history: false,
    })
  })
  it('maps models, the period, masking and all users', () => {
    const filters = {
      ...defaultFilters(),
      sources: ['compare' as const],
      rating: 'any' as const,
      modelConfigIds: ['m1'],
      range: [new Date('2025-01-01T00:00:00Z'), new Date('2025-02-01T00:00:00Z')] as [Date, Date],
      scrub: ['phone' as const],
      allUsers: true,
      history: true,
    }
    expect(previewRequest(filters)).toMatchObject({
      sources: ['compare'],
      rating: 'any',
      model_config_ids: ['m1'],
      since: '2025-01-01T00:00:00.000Z',
      until: '2025-02-01T00:00:00.000Z',
      scrub: { emails: false, phones: true, secrets: false },
      all_users: true,
      history: true,
    })
  })
})

describe('reviewed pairs', () => {
  const pairs = [pair('a', { history: [['hi', 'hello']], system: 'Be brief.' }), pair('b'), pair('c', { output: '  ' })]

  it('keeps the pairs not left out, with their edits, in the collect shape', () => {
    expect(reviewedPairs(pairs, new Set(['b', 'c']))).toEqual([
      { instruction: 'Question a', output: 'Answer a', input: '', system: 'Be brief.', history: [['hi', 'hello']], source: 'chat' },
    ])
  })
  it('names kept pairs whose instruction or output is blank', () => {
    expect(emptyPairs(pairs, new Set())).toEqual(['c'])
    expect(emptyPairs(pairs, new Set(['c']))).toEqual([])
  })
  it('suggests a name from the sources, the rating and the day', () => {
    expect(suggestedName(defaultFilters(), new Date('2025-03-04T10:00:00Z'))).toBe('chat-compare-up-2025-03-04')
  })
})

describe('overrides', () => {
  const defaults: TrainDefaults = {
    base_model_id: 'base',
    dataset_ids: ['d'],
    eval_dataset_ids: [],
    explanations: {},
    estimates: {},
    num_train_epochs: 5,
    learning_rate: 0.0002,
    cutoff_len: 256,
    lora_rank: 8,
  }
  it('sends only what differs from the defaults', () => {
    expect(overrides(defaults, { num_train_epochs: 2, learning_rate: 0.0002, cutoff_len: null, max_steps: 10 })).toEqual({
      num_train_epochs: 2,
      max_steps: 10,
    })
  })
})

describe('evaluation helpers', () => {
  it('formats the win rate and its interval', () => {
    expect(percent(0.5)).toBe('50.0 %')
    expect(percent(null)).toBe('—')
    expect(interval(0.1234, 0.8766)).toBe('12.3–87.7 %')
    expect(interval(null, 0.5)).toBe('—')
  })
  it('reads one prompt per non-empty line', () => {
    expect(promptLines(' a \n\n b\n')).toEqual(['a', 'b'])
  })
  it('sends only the changed settings, and null to clear stored prompts or judge', () => {
    const stored = { prompts: ['p1'], judge_model_id: 'j', max_examples: 20, max_tokens: 256 }
    expect(rerunBody(stored, { prompts: 'p1', judgeModelId: 'j', maxExamples: 20, maxTokens: 256 })).toEqual({})
    expect(rerunBody(stored, { prompts: '', judgeModelId: '', maxExamples: 5, maxTokens: 256 })).toEqual({
      prompts: null,
      judge_model_id: null,
      max_examples: 5,
    })
    expect(rerunBody(undefined, { prompts: 'x\ny', judgeModelId: 'j', maxExamples: 20, maxTokens: 64 })).toEqual({
      prompts: ['x', 'y'],
      judge_model_id: 'j',
      max_examples: 20,
      max_tokens: 64,
    })
  })
})
