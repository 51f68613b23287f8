// Shapes of /api/auth/api-keys and /api/quotas/me (handlers/auth/schemas.py, handlers/quotas/schemas.py).

export interface ApiKey {
  id: string
  name: string
  prefix: string
  created_at: string
  expires_at: string | null
  last_used_at: string | null
}

export interface ApiKeyCreated {
  id: string
  key: string
  prefix: string
  name: string
  created_at: string
  expires_at: string | null
}

export interface MonthSpend {
  tokens: number
  cost: number
}

export interface SubjectQuota {
  subject_type: 'user' | 'api_key'
  subject_id: string
  requests_per_minute: number | null
  monthly_token_budget: number | null
  monthly_cost_budget: number | null
  spend: MonthSpend
  remaining_tokens: number | null
  remaining_cost: number | null
}

export interface MyQuotas {
  period_start: string
  period_end: string
  user: SubjectQuota
  api_key?: SubjectQuota | null
}
