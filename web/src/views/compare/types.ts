// Shapes of handlers/compare (msgspec Structs and SSE payloads), as the API sends them.
import type { Page } from '@/api/client'

export interface CompareMetrics {
  ttft_ms: number | null
  latency_ms: number
  generation_ms: number | null
  tokens_per_s: number | null
  input_tokens: number
  output_tokens: number
  reasoning_tokens: number
  cost: number | null
}

export type AnswerStatus = 'ok' | 'error' | 'cancelled'

export interface ResultRead {
  model_config_id: string
  alias: string
  name: string
  status: AnswerStatus
  finish_reason: string | null
  error: string | null
  error_message: string | null
  metrics: CompareMetrics
  answer?: string | null
  reasoning?: string | null
  truncated?: boolean
}

export interface VoteRead {
  run_id: string
  winner_model_config_id: string | null
  note: string | null
  updated_at: string
}

export interface RunRead {
  id: string
  prompt: string
  system_prompt: string | null
  parameters: Record<string, unknown>
  batch_id: string | null
  prompt_index: number | null
  created_at: string
  results: ResultRead[]
  my_vote?: VoteRead | null
}

export type RunPage = Page<RunRead>

export interface ModelRef {
  model_config_id: string
  alias: string
  name: string
}

export interface BatchModelSummary {
  model_config_id: string
  alias: string
  answers: number
  errors: number
  mean_ttft_ms: number | null
  p50_ttft_ms: number | null
  mean_tokens_per_s: number | null
  p50_tokens_per_s: number | null
  mean_latency_ms: number | null
  total_cost: number | null
  wins: number
  losses: number
  ties: number
  win_rate: number | null
}

export interface BatchRead {
  id: string
  name: string | null
  status: 'queued' | 'running' | 'completed' | string
  total: number
  done: number
  errors: number
  progress: number
  prompt_count: number
  models: ModelRef[]
  system_prompt: string | null
  parameters: Record<string, unknown>
  created_at: string
  started_at: string | null
  completed_at: string | null
  summary?: BatchModelSummary[] | null
}

export type BatchPage = Page<BatchRead>

export interface LeaderboardEntry {
  rank: number
  model_config_id: string
  alias: string | null
  name: string | null
  wins: number
  losses: number
  ties: number
  games: number
  win_rate: number | null
  ci_low: number
  ci_high: number
}

export interface Leaderboard extends Page<LeaderboardEntry> {
  votes: number
}

// SSE payloads of POST /api/compare (handlers/compare/fanout.py).
export interface StartEvent {
  model_config_id: string
  run_id: string
  alias: string
  name: string
}
export interface TextEvent {
  model_config_id: string
  text: string
}
export interface UsageEvent {
  model_config_id: string
  input_tokens: number
  output_tokens: number
  reasoning_tokens: number
}
export interface EndEvent {
  model_config_id: string
  alias: string
  status: AnswerStatus
  finish_reason: string | null
  error: string | null
  error_message: string | null
  metrics: CompareMetrics
}
export interface SummaryEvent {
  run_id: string
  models: EndEvent[]
}

/** One column of a comparison, live or read back from a saved run. */
export interface Column {
  model_config_id: string
  alias: string
  name: string
  status: 'waiting' | 'streaming' | AnswerStatus
  content: string
  reasoning: string
  /** performance.now() readings in the browser, for live numbers before `done`. */
  startedAt: number
  firstTokenAt: number | null
  reasoningEndedAt: number | null
  endedAt: number | null
  deltas: number
  usage: { input_tokens: number; output_tokens: number; reasoning_tokens: number } | null
  metrics: CompareMetrics | null
  error: string | null
  error_message: string | null
  truncated?: boolean
  inputPrice?: number | null
  outputPrice?: number | null
}

export function columnFromResult(r: ResultRead): Column {
  return {
    model_config_id: r.model_config_id,
    alias: r.alias,
    name: r.name,
    status: r.status,
    content: r.answer ?? '',
    reasoning: r.reasoning ?? '',
    startedAt: 0,
    firstTokenAt: null,
    reasoningEndedAt: null,
    endedAt: null,
    deltas: 0,
    usage: null,
    metrics: r.metrics,
    error: r.error,
    error_message: r.error_message,
    truncated: r.truncated,
  }
}
