// Shapes of handlers/collect (collect/schemas.py) and of the stable aliases
// (models/alias_schemas.py), as the API sends them.
import type { Dataset } from '../datasets/types'

export type Source = 'chat' | 'compare'
export type Rating = 'up' | 'down' | 'any'
export type ScrubKind = 'email' | 'phone' | 'secret'
export type CollectFormat = 'alpaca' | 'sharegpt'
export const SOURCES: Source[] = ['chat', 'compare']
export const RATINGS: Rating[] = ['up', 'down', 'any']
export const SCRUB_KINDS: ScrubKind[] = ['email', 'phone', 'secret']

export interface ScrubOptions {
  emails: boolean
  phones: boolean
  secrets: boolean
}

/** POST /api/datasets/collect/preview (PreviewRequest; absent fields take the API's defaults). */
export interface PreviewRequest {
  sources: Source[]
  model_config_ids?: string[]
  since?: string
  until?: string
  rating: Rating
  tags?: string[]
  all_users?: boolean
  scrub: ScrubOptions
  limit: number
  history: boolean
}

export interface Scrubbed {
  field: string
  kind: ScrubKind
  /** Masked: enough to recognise the value, never the value. */
  text: string
}

export interface Pair {
  id: string
  source: Source
  source_id: string
  system: string | null
  instruction: string
  input: string
  output: string
  model_alias: string | null
  rating: number
  created_at: string
  scrubbed: Scrubbed[]
  model_config_id: string | null
  conversation_id: string | null
  history: string[][]
}

export interface PreviewResponse {
  pairs: Pair[]
  /** Matching pairs before `limit` (the newest `limit` are returned). */
  total: number
  scrub_summary: Record<string, number>
  user_count: number
  notes: string[]
}

/** A reviewed pair (CollectPair). */
export interface CollectPair {
  instruction: string
  output: string
  input?: string
  system?: string | null
  history?: string[][]
  source?: string | null
}

export interface CollectRequest {
  name: string
  format: CollectFormat
  pairs: CollectPair[]
  val_ratio: number
  base_model_id?: string
  filters?: PreviewRequest
}

/** `stats.split` of a collected dataset (training part). */
export interface TrainSplit {
  role: 'train'
  validation_dataset_id: string | null
  train_records: number
  validation_records: number
  val_ratio: number
  duplicates_dropped: number
}

export interface ValidationItem {
  instruction: string
  input: string
  output: string
  system: string | null
  history: string[][]
}

export interface ValidationSplit {
  dataset_id: string
  validation_dataset_id: string | null
  total: number
  items: ValidationItem[]
}

/** GET /api/datasets/{id}/train-defaults: a job request with why each value was chosen. */
export interface TrainDefaults {
  base_model_id: string
  dataset_ids: string[]
  eval_dataset_ids: string[]
  explanations: Record<string, string>
  estimates: Record<string, unknown>
  [field: string]: unknown
}

/** The job fields a one-action train may override (TrainRequest.overrides). */
export const OVERRIDABLE = ['num_train_epochs', 'max_steps', 'learning_rate', 'cutoff_len', 'lora_rank'] as const
export type Overridable = (typeof OVERRIDABLE)[number]

export interface TrainEvaluation {
  enabled?: boolean
  judge_model_id?: string
  max_examples?: number
  max_tokens?: number
}

export interface TrainRequest {
  base_model_id: string
  overrides: Partial<Record<Overridable, number>>
  evaluation?: TrainEvaluation
}

export type CollectedDataset = Dataset

// --- stable aliases ----------------------------------------------------------------------

/** Like a model config's alias, without "/": one segment of the route's path. */
export const ALIAS_PATTERN = /^[A-Za-z0-9._:-]{1,200}$/

export interface AliasTarget {
  model_config_id: string
  alias: string | null
  name: string | null
  /** Enabled, on an enabled provider: /v1 requests for the stable alias answer. */
  servable: boolean
}

export interface AliasRead {
  alias: string
  target: AliasTarget | null
  /** What rollbacks go back to, most recent first. */
  previous: string[]
  updated_by: string | null
  created_at: string
  updated_at: string
}

export interface AliasChange {
  id: string
  action: 'promoted' | 'rolled_back' | string
  model_config_id: string
  previous_model_config_id: string | null
  actor_id: string | null
  event_id: string
  created_at: string
}

export interface AliasHistory {
  alias: string
  items: AliasChange[]
}
