// Shapes of handlers/providers and handlers/models (msgspec Structs), as the API sends them.

export type ProviderType = 'openai-compatible' | 'anthropic' | 'gemini' | 'dify'
export const PROVIDER_TYPES: ProviderType[] = ['openai-compatible', 'anthropic', 'gemini', 'dify']

export interface UpstreamModel {
  id: string
  name?: string
  owned_by?: string
  context_window?: number
}

export interface Provider {
  id: string
  name: string
  type: ProviderType
  base_url: string
  preset: string | null
  api_key_hint: string | null
  has_api_key: boolean
  enabled: boolean
  settings: Record<string, unknown>
  available_models: UpstreamModel[]
  models_synced_at: string | null
  created_at: string
  updated_at: string
}

export interface Preset {
  id: string
  name: string
  type: ProviderType
  base_url: string
  requires_key: boolean
  docs_url: string
  notes: string
}

export interface ConnectionCheck {
  ok: boolean
  latency_ms: number
  error?: string
  message?: string
  models?: number
}

export interface ModelList {
  provider_id: string
  models: UpstreamModel[]
  synced_at: string
}

export interface Capabilities {
  reasoning: boolean
  vision: boolean
  tools: boolean
  context_window: number | null
}

export interface ModelParameters {
  temperature?: number | null
  top_p?: number | null
  max_tokens?: number | null
  stop?: string[] | null
  seed?: number | null
  presence_penalty?: number | null
  frequency_penalty?: number | null
  reasoning_effort?: 'low' | 'medium' | 'high' | null
  reasoning_budget_tokens?: number | null
  extra?: Record<string, unknown> | null
}

export interface ModelConfigRead {
  id: string
  provider_id: string | null
  model_id: string
  alias: string
  name: string
  kind: string
  enabled: boolean
  capabilities: Capabilities
  parameters: ModelParameters
  input_price_per_mtok: number | null
  output_price_per_mtok: number | null
  created_at: string
  updated_at: string
}
