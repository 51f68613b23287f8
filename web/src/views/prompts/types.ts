// Shapes of handlers/prompts (msgspec Structs), as the API sends them.
import type { Page } from '@/api/client'

export interface Variable {
  name: string
  description?: string | null
  default?: string | null
  required?: boolean
}

export interface Template {
  id: string
  owner_id: string | null
  name: string
  description: string | null
  category: string | null
  tags: string[]
  body: string
  variables: Variable[]
  shared: boolean
  version: number
  created_at: string
  updated_at: string
}

export type TemplatePage = Page<Template>

export interface TemplateVersion {
  version: number
  name: string
  description: string | null
  category: string | null
  tags: string[]
  body: string
  variables: Variable[]
  shared: boolean
  edited_by: string | null
  note: string | null
  created_at: string
}

export interface VersionDiff {
  from_version: number
  to_version: number
  changed: string[]
  body_diff: string
}

export interface RenderResult {
  text: string
  complete: boolean
  missing: string[]
  unknown: string[]
}

/** `{{ name }}` placeholders, as handlers/prompts/variables.py finds them. */
export const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g

/** Names in order of first use. */
export function placeholders(body: string): string[] {
  const out: string[] = []
  for (const match of body.matchAll(PLACEHOLDER)) {
    const name = match[1]!
    if (!out.includes(name)) out.push(name)
  }
  return out
}

/** The same rule as the API's renderer, for previewing unsaved edits. */
export function renderLocal(body: string, variables: Variable[], values: Record<string, string>): RenderResult {
  const declared = new Map(variables.map((v) => [v.name, v]))
  const missing: string[] = []
  const text = body.replace(PLACEHOLDER, (whole: string, name: string) => {
    if (name in values && values[name] !== '') return values[name]!
    const spec = declared.get(name)
    if (spec?.default !== undefined && spec.default !== null) return spec.default
    if (spec && spec.required === false) return ''
    if (!missing.includes(name)) missing.push(name)
    return whole
  })
  return { text, complete: missing.length === 0, missing, unknown: [] }
}
