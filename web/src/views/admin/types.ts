// Shapes of the admin routes (handlers/admin, handlers/quotas, handlers/stats, handlers/audit).

export interface Role {
  name: string
  description: string
  permissions: string[]
  builtin: boolean
  created_at?: string | null
  updated_at?: string | null
}

export interface PermissionInfo {
  name: string
  description: string
}

export interface PasswordResetResult {
  user_id: string
  temporary_password?: string | null
}

export type SubjectType = 'user' | 'api_key'

export interface QuotaRead {
  subject_type: SubjectType
  subject_id: string
  user_id: string
  requests_per_minute: number | null
  monthly_token_budget: number | null
  monthly_cost_budget: number | null
  created_at: string
  updated_at: string
}

export interface QuotaSet {
  requests_per_minute: number | null
  monthly_token_budget: number | null
  monthly_cost_budget: number | null
}

export interface CallTotals {
  calls: number
  errors: number
  cancelled: number
  input_tokens: number
  output_tokens: number
  reasoning_tokens: number
  cost: number
  error_rate: number
}

export interface LatencyStats {
  avg: number | null
  p50: number | null
  p95: number | null
  p99: number | null
}

export interface ModelStats extends CallTotals {
  model_alias: string
  latency_ms: LatencyStats
  ttft_ms: LatencyStats
}

export interface UserStats extends CallTotals {
  user_id: string
  email: string | null
}

export interface TimeBucket {
  start: string
  calls: number
  errors: number
  input_tokens: number
  output_tokens: number
  cost: number
  p50_latency_ms: number | null
  p95_latency_ms: number | null
}

export interface Dashboard {
  since: string
  until: string
  bucket: 'hour' | 'day'
  filters: { model: string | null; user_id: string | null }
  totals: CallTotals
  by_model: ModelStats[]
  by_user: UserStats[]
  over_time: TimeBucket[]
  users: { total: number; active: number; new: number }
  training: {
    jobs_by_status: Record<string, number>
    created: number
    succeeded: number
    failed: number
    cancelled: number
    training_seconds: number
  }
  knowledge: {
    bases: number
    documents: number
    documents_by_status: Record<string, number>
    chunks: number
  }
}

export interface AuditEntry {
  id: string
  type: string
  subject: string
  actor: string
  source: string
  time: string
  data: Record<string, unknown>
}
