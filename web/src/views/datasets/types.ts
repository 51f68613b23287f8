// Shapes of handlers/datasets (msgspec Structs).

export interface LengthSummary {
  min: number
  mean: number
  p50: number
  p95: number
  max: number
  total?: number
}

export interface DatasetStats {
  records?: number
  turns?: number
  turns_per_record?: LengthSummary
  prompt_chars?: LengthSummary
  response_chars?: LengthSummary
  total_chars?: LengthSummary
  tokens?: LengthSummary
  duplicates?: number
  with_system_prompt?: number
  [extra: string]: unknown
}

export interface Dataset {
  id: string
  owner_id: string
  name: string
  version: number
  format: string
  content_hash: string
  size_bytes: number
  num_records: number
  stats: DatasetStats
  dataset_info: Record<string, unknown>
  created_at: string
}

export interface PreviewRecord {
  index: number
  line: number
  system: string | null
  messages: { role: string; content: string }[]
  raw: unknown
}

export interface DatasetPreview {
  dataset_id: string
  format: string
  total: number
  offset: number
  items: PreviewRecord[]
}

/** One problem of a rejected upload (the 422's `errors`). */
export interface RecordProblem {
  line: number | null
  record?: number | null
  field: string
  message: string
}
