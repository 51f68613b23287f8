// Shapes of /api/webhooks (handlers/webhooks/schemas.py).

export interface Webhook {
  id: string
  owner_id: string
  url: string
  event_types: string[]
  description: string | null
  enabled: boolean
  disabled_reason: string | null
  consecutive_failures: number
  created_at: string
  updated_at: string
}

export interface WebhookCreated extends Webhook {
  secret: string
}

export interface WebhookSecret {
  id: string
  secret: string
}

export interface DeliveryAttempt {
  number: number
  generation: number
  succeeded: boolean
  response_status: number | null
  response_snippet: string | null
  error: string | null
  latency_ms: number | null
  created_at: string
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed'

export interface Delivery {
  id: string
  webhook_id: string
  event_id: string
  event_type: string
  status: DeliveryStatus
  attempt_count: number
  generation: number
  next_attempt_at: string | null
  created_at: string
  updated_at: string
  attempts: DeliveryAttempt[]
}

export interface PingSent {
  event_id: string
  delivery_id: string
}
