// The collect page's logic without Vue: filters to a preview request, reviewed pairs to a
// collect request, edited training values to overrides.
import type {
  CollectPair,
  Overridable,
  Pair,
  PreviewRequest,
  Rating,
  ScrubKind,
  Source,
  TrainDefaults,
} from './types'
import { OVERRIDABLE } from './types'
import { isoOrUndefined } from '../admin/shared'

export interface CollectFilters {
  sources: Source[]
  rating: Rating
  modelConfigIds: string[]
  /** [since, until] from a date-time range picker. */
  range: [Date, Date] | null
  history: boolean
  allUsers: boolean
  scrub: ScrubKind[]
  limit: number
}

export function defaultFilters(): CollectFilters {
  return {
    sources: ['chat', 'compare'],
    rating: 'up',
    modelConfigIds: [],
    range: null,
    history: false,
    allUsers: false,
    scrub: ['email', 'phone', 'secret'],
    limit: 500,
  }
}

/** The preview request for these filters: empty filters are left out (the API's defaults). */
export function previewRequest(filters: CollectFilters): PreviewRequest {
  const body: PreviewRequest = {
    sources: [...filters.sources],
    rating: filters.rating,
    scrub: {
      emails: filters.scrub.includes('email'),
      phones: filters.scrub.includes('phone'),
      secrets: filters.scrub.includes('secret'),
    },
    limit: filters.limit,
    history: filters.history,
  }
  if (filters.modelConfigIds.length) body.model_config_ids = [...filters.modelConfigIds]
  const since = isoOrUndefined(filters.range?.[0])
  const until = isoOrUndefined(filters.range?.[1])
  if (since) body.since = since
  if (until) body.until = until
  if (filters.allUsers) body.all_users = true
  return body
}

/** The pairs kept in review, as the collect route takes them (edits included). */
export function reviewedPairs(pairs: Pair[], excluded: ReadonlySet<string>): CollectPair[] {
  return pairs
    .filter((p) => !excluded.has(p.id))
    .map((p) => ({
      instruction: p.instruction,
      output: p.output,
      input: p.input,
      system: p.system,
      history: p.history,
      source: p.source,
    }))
}

/** Pairs that cannot be saved: an empty instruction or output after editing. */
export function emptyPairs(pairs: Pair[], excluded: ReadonlySet<string>): string[] {
  return pairs.filter((p) => !excluded.has(p.id) && (!p.instruction.trim() || !p.output.trim())).map((p) => p.id)
}

/** A name for the dataset from the filters, e.g. "chat-compare-up-2025-01-31". */
export function suggestedName(filters: CollectFilters, today: Date = new Date()): string {
  const day = today.toISOString().slice(0, 10)
  return [...filters.sources, filters.rating, day].join('-')
}

/** The edited values that differ from the defaults (empty or invalid values are dropped). */
export function overrides(
  defaults: TrainDefaults,
  edited: Partial<Record<Overridable, number | null | undefined>>,
): Partial<Record<Overridable, number>> {
  const out: Partial<Record<Overridable, number>> = {}
  for (const field of OVERRIDABLE) {
    const value = edited[field]
    if (value === null || value === undefined || !Number.isFinite(value)) continue
    if (defaults[field] !== value) out[field] = value
  }
  return out
}
