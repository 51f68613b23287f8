import { describe, expect, it } from 'vitest'
import { placeholders, renderLocal } from './types'

describe('placeholders', () => {
  it('finds each {{name}} once, in order of first use, spaces allowed', () => {
    expect(placeholders('{{ b }} and {{a}} then {{b}} but not {{1x}} or {single}')).toEqual(['b', 'a'])
  })
})

describe('renderLocal', () => {
  const variables = [
    { name: 'language', required: true },
    { name: 'tone', default: 'neutral' },
    { name: 'extra', required: false },
  ]
  it('fills values, then defaults, and empties optional ones', () => {
    const out = renderLocal('{{language}} / {{tone}} / [{{extra}}]', variables, { language: 'French' })
    expect(out).toEqual({ text: 'French / neutral / []', complete: true, missing: [], unknown: [] })
  })
  it('keeps the placeholder of a missing required value and names it', () => {
    const out = renderLocal('Into {{language}}.', variables, {})
    expect(out.text).toBe('Into {{language}}.')
    expect(out.missing).toEqual(['language'])
  })
})
