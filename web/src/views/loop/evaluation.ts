// Shapes of handlers/evaluation (evaluation/schemas.py) and how the panel reads them.

export type EvaluationStatus = 'pending' | 'running' | 'completed' | 'failed'
export const EVALUATION_ACTIVE: string[] = ['pending', 'running']

export interface AnswerMetrics {
  status?: string // ok | error | cancelled (absent: ok)
  error?: string | null
  latency_ms?: number | null
  ttft_ms?: number | null
  input_tokens?: number
  output_tokens?: number
  /** The server reported no usage: the streamed chunks were counted. */
  tokens_estimated?: boolean
}

export interface Verdicts {
  /** "A", "B" or "tie" as the judge said it; absent when unreadable or not asked. */
  base_first?: string | null
  tuned_first?: string | null
  error?: string | null
}

export type Outcome = 'win' | 'loss' | 'tie'

export interface EvaluationExample {
  index: number
  prompt: string
  system: string | null
  reference: string | null
  base_output: string
  tuned_output: string
  base: AnswerMetrics
  tuned: AnswerMetrics
  verdicts: Verdicts
  /** From the fine-tuned model's side; null when not judged. */
  outcome: Outcome | string | null
}

export interface SideSummary {
  answers?: number
  errors?: number
  mean_latency_ms?: number | null
  mean_ttft_ms?: number | null
  mean_output_tokens?: number | null
  total_input_tokens?: number
  total_output_tokens?: number
}

/** `summary` of a completed run: the win-rate fields only when a judge was asked. */
export interface EvaluationSummary {
  examples?: number
  judge?: boolean
  base?: SideSummary
  tuned?: SideSummary
  judged?: number
  wins?: number
  losses?: number
  ties?: number
  unjudged?: number
  win_rate?: number | null
  ci_low?: number | null
  ci_high?: number | null
  confidence?: number
  interval?: string
}

export interface EvaluationSettings {
  prompts?: string[] | null
  judge_model_id?: string | null
  max_examples?: number
  max_tokens?: number
}

export interface Evaluation {
  id: string
  job_id: string
  status: EvaluationStatus | string
  run: number
  settings: EvaluationSettings
  source: string | null
  base_model_id: string | null
  tuned_model_id: string | null
  judge_model_id: string | null
  total: number
  done: number
  summary: EvaluationSummary
  error: string | null
  created_at: string
  started_at: string | null
  finished_at: string | null
  examples: EvaluationExample[]
}

/** POST …/evaluation (EvaluationRerun): absent fields keep their settings, null clears. */
export interface EvaluationRerun {
  prompts?: string[] | null
  judge_model_id?: string | null
  max_examples?: number
  max_tokens?: number
}

export function percent(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—'
  return `${(value * 100).toFixed(digits)} %`
}

/** "40.1–80.3 %" for a [low, high] proportion interval; "—" when there is none. */
export function interval(low: number | null | undefined, high: number | null | undefined): string {
  if (low === null || low === undefined || high === null || high === undefined) return '—'
  return `${(low * 100).toFixed(1)}–${(high * 100).toFixed(1)} %`
}

/** One prompt per non-empty line of a text area (the API takes 1–200). */
export function promptLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
}

/** The rerun body for the form: only what changed from the stored settings. */
export function rerunBody(
  stored: EvaluationSettings | undefined,
  form: { prompts: string; judgeModelId: string; maxExamples: number; maxTokens: number },
): EvaluationRerun {
  const body: EvaluationRerun = {}
  const prompts = promptLines(form.prompts)
  const storedPrompts = stored?.prompts ?? []
  if (prompts.length) {
    if (prompts.join('\n') !== storedPrompts.join('\n')) body.prompts = prompts
  } else if (storedPrompts.length) {
    body.prompts = null
  }
  const judge = form.judgeModelId || null
  if (judge !== (stored?.judge_model_id ?? null)) body.judge_model_id = judge
  if (form.maxExamples !== stored?.max_examples) body.max_examples = form.maxExamples
  if (form.maxTokens !== stored?.max_tokens) body.max_tokens = form.maxTokens
  return body
}

export function outcomeType(outcome: string | null): 'success' | 'danger' | 'info' | 'warning' {
  switch (outcome) {
    case 'win':
      return 'success'
    case 'loss':
      return 'danger'
    case 'tie':
      return 'warning'
    default:
      return 'info'
  }
}

export function evaluationStatusType(status: string): 'success' | 'warning' | 'danger' | 'primary' {
  switch (status) {
    case 'completed':
      return 'success'
    case 'failed':
      return 'danger'
    case 'running':
      return 'primary'
    default:
      return 'warning'
  }
}
