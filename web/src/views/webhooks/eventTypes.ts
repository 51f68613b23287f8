// The platform's event types, read from its AsyncAPI document (GET /asyncapi.json).
import { api } from '@/api/client'

interface AsyncApiDocument {
  components?: { messages?: Record<string, { name?: string; summary?: string }> }
}

export interface EventTypeInfo {
  /** Full CloudEvents type: `llmforge.auth.user.registered.v1`. */
  type: string
  /** The short form filters use: `auth.user.registered`. */
  short: string
  summary: string
}

let cached: Promise<EventTypeInfo[]> | null = null

export function shortType(type: string): string {
  return type.replace(/^llmforge\./, '').replace(/\.v\d+$/, '')
}

/** Every event type, sorted; an empty list when the document cannot be read. */
export function loadEventTypes(): Promise<EventTypeInfo[]> {
  cached ??= api
    .get<AsyncApiDocument>('/asyncapi.json')
    .then((doc) =>
      Object.values(doc.components?.messages ?? {})
        .filter((m): m is { name: string; summary?: string } => typeof m.name === 'string')
        .map((m) => ({ type: m.name, short: shortType(m.name), summary: m.summary ?? '' }))
        .sort((a, b) => a.short.localeCompare(b.short)),
    )
    .catch(() => {
      cached = null
      return []
    })
  return cached
}

export interface FilterOption {
  value: string
  label: string
  group: 'all' | 'domain' | 'entity' | 'type'
}

/**
 * Filter choices for webhooks: `*`, each domain (`auth.>`), each entity (`training.job.*`)
 * and each type. Delivery events are never sent by webhooks (they would loop), so they are left out.
 */
export function filterOptions(types: EventTypeInfo[]): FilterOption[] {
  const deliverable = types.filter((t) => !t.short.startsWith('webhooks.delivery.'))
  const domains = [...new Set(deliverable.map((t) => t.short.split('.')[0]))]
  const entities = [...new Set(deliverable.map((t) => t.short.split('.').slice(0, 2).join('.')))]
  return [
    { value: '*', label: '*', group: 'all' },
    ...domains.map((d) => ({ value: `${d}.>`, label: `${d}.>`, group: 'domain' as const })),
    ...entities.map((e) => ({ value: `${e}.*`, label: `${e}.*`, group: 'entity' as const })),
    ...deliverable.map((t) => ({ value: t.short, label: t.short, group: 'type' as const })),
  ]
}
