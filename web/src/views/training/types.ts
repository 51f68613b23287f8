// Shapes of handlers/training (msgspec Structs) and of the job events (events/training.py).

export type JobStatus = 'queued' | 'validating_files' | 'running' | 'succeeded' | 'failed' | 'cancelled'
export const ACTIVE_STATUSES: string[] = ['queued', 'validating_files', 'running']

export interface JobProgress {
  step?: number
  total_steps?: number
  epoch?: number
  loss?: number
  eval_loss?: number
  learning_rate?: number
  grad_norm?: number
  throughput?: number
  elapsed_seconds?: number
  remaining_seconds?: number
  percentage?: number
  checkpoints?: number[]
  final_loss?: number | null
  best_loss?: number | null
  duration_seconds?: number
  resumed_from?: string
  [extra: string]: unknown
}

export interface Job {
  id: string
  owner_id: string
  status: JobStatus | string
  base_model_id: string | null
  dataset_ids: string[]
  hyperparameters: Record<string, unknown>
  progress: JobProgress
  error: string | null
  swanlab_run_id: string | null
  result_model_id: string | null
  output_dir: string | null
  adapter_path: string | null
  report_url: string | null
  attempts: number
  created_at: string
  started_at: string | null
  finished_at: string | null
  warnings: string[]
}

export interface MetricPoint {
  step: number
  epoch?: number
  loss?: number
  eval_loss?: number
  learning_rate?: number
  grad_norm?: number
  throughput?: number
  elapsed_seconds?: number
}

export interface Metrics {
  job_id: string
  status: string
  points: MetricPoint[]
}

/** The CloudEvents envelope the SSE feed sends as `data` (event name = its `type`). */
export interface JobEvent<T> {
  id: string
  type: string
  subject: string
  time: string
  data: T
}

export interface ProgressData extends MetricPoint {
  job_id: string
  total_steps: number
  remaining_seconds?: number
  percentage?: number
}

export interface Server {
  id: string
  model_config_id: string
  status: 'starting' | 'running' | 'stopped' | 'failed' | string
  base_url: string | null
  provider_id: string | null
  error: string | null
  healthy: boolean | null
}

export const SCHEDULERS = [
  'linear',
  'cosine',
  'cosine_with_restarts',
  'polynomial',
  'constant',
  'constant_with_warmup',
  'inverse_sqrt',
  'cosine_with_min_lr',
  'warmup_stable_decay',
] as const

export function statusType(status: string): 'success' | 'warning' | 'danger' | 'info' | 'primary' {
  switch (status) {
    case 'succeeded':
      return 'success'
    case 'failed':
      return 'danger'
    case 'cancelled':
      return 'info'
    case 'running':
      return 'primary'
    default:
      return 'warning'
  }
}

/** `llmforge.training.job.progress.v1` → `progress`. */
export function eventVerb(type: string): string {
  const parts = type.split('.')
  return parts.length >= 2 ? (parts[parts.length - 2] as string) : type
}
