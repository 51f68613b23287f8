// Helpers the chat and compare pages share.
import { api, type Page } from '@/api/client'
import { ApiError } from '@/api/problem'
import type { ChatParameters, ModelOption } from './types'

/** Enabled chat models (admins also get disabled ones from the API: those are left out). */
export async function loadModels(): Promise<ModelOption[]> {
  const page = await api.get<Page<ModelOption>>('/api/models', { limit: 200 })
  return page.items.filter((m) => m.enabled)
}

/**
 * The field errors of a problem as "name: message" lines. Domain errors name the
 * offending value (`{field, name, message}`), validation errors a `key`.
 */
export function problemLines(error: unknown): string[] {
  if (!(error instanceof ApiError)) return []
  return (error.problem.errors ?? []).map((e) => {
    const entry = e as { name?: string; field?: string; key?: string; message: string }
    const label = entry.name ?? entry.key ?? entry.field
    return label ? `${label}: ${entry.message}` : entry.message
  })
}

/** Field errors of a problem keyed by the value they name (a variable) or the field. */
export function problemFields(error: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (!(error instanceof ApiError)) return out
  for (const e of error.problem.errors ?? []) {
    const entry = e as { name?: string; field?: string; key?: string; message: string }
    const label = entry.name ?? entry.key ?? entry.field
    if (label && !out[label]) out[label] = entry.message
  }
  return out
}

/**
 * A `<think>…</think>` block at the start of an answer, for providers whose reasoning
 * arrives inline in the content (the gateway normally splits it out already).
 */
export function splitThink(content: string): { reasoning: string | null; answer: string } {
  const match = /^\s*<think>([\s\S]*?)(<\/think>|$)/.exec(content)
  if (!match) return { reasoning: null, answer: content }
  return { reasoning: (match[1] ?? '').trim(), answer: content.slice(match[0].length).replace(/^\s+/, '') }
}

/** Parameters without the unset ones: the API treats an absent field as "the model's default". */
export function cleanParameters(params: ChatParameters): ChatParameters {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === '') continue
    if (Array.isArray(value) && value.length === 0) continue
    out[key] = value
  }
  return out as ChatParameters
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—'
  if (ms < 1000) return `${Math.round(ms)} ms`
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
}
