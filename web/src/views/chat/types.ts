// Shapes of handlers/chat (msgspec Structs and SSE payloads), as the API sends them.
import type { Page } from '@/api/client'

export interface ChatParameters {
  temperature?: number | null
  top_p?: number | null
  max_tokens?: number | null
  stop?: string[] | null
  seed?: number | null
  presence_penalty?: number | null
  frequency_penalty?: number | null
  reasoning_effort?: 'low' | 'medium' | 'high' | null
  reasoning_budget_tokens?: number | null
}

export interface ChatSession {
  id: string
  title: string
  title_source: 'default' | 'user' | 'generated' | string
  model_config_id: string | null
  system_prompt: string | null
  template_id: string | null
  variables: Record<string, string>
  parameters: ChatParameters
  knowledge_base_ids: string[]
  knowledge_top_k: number | null
  created_at: string
  updated_at: string
}

export type SessionPage = Page<ChatSession>

export interface Citation {
  index: number
  document_id: string
  knowledge_base_id?: string
  filename: string
  chunk_index: number
  score: number
  text: string
}

/** meta_info of an answer (handlers/chat/records.py), filled live from `usage`/`done` while streaming. */
export interface MessageMeta {
  kind?: string
  model?: string | null
  model_config_id?: string | null
  finish_reason?: string | null
  input_tokens?: number
  output_tokens?: number
  reasoning_tokens?: number
  cached_input_tokens?: number
  ttft_ms?: number | null
  latency_ms?: number | null
  cost?: number | null
  truncated?: boolean
  citations?: Citation[]
  error?: string
  error_message?: string
  cancel_reason?: string
  /** Client-side only: earlier turns the server left out to fit the context window. */
  dropped_turns?: number
}

export interface ChatMessage {
  id: string
  session_id: string
  parent_id: string | null
  role: 'user' | 'assistant' | 'system'
  content: string
  reasoning: string | null
  status: 'completed' | 'failed' | 'cancelled' | 'streaming' | string
  meta: MessageMeta
  rating: number | null
  rating_note: string | null
  created_at: string
  current: boolean
  sibling_index: number
  sibling_count: number
  persisted: boolean
}

/** A message as the page shows it: the API's, plus what only the live stream knows. */
export interface ViewMessage extends ChatMessage {
  streaming?: boolean
  /** Milliseconds spent reasoning, measured in the browser while streaming. */
  thinkingMs?: number | null
}

// SSE payloads of send / regenerate / edit (handlers/chat/framing.py).
export interface StartEvent {
  turn_id: string
  session_id: string
  kind: 'send' | 'regenerate' | 'edit'
  user_message_id: string
  assistant_message_id: string
  parent_id: string | null
  dropped_turns: number
}

export interface UsageEvent {
  input_tokens: number
  output_tokens: number
  reasoning_tokens: number
  cached_input_tokens: number
}

export interface DoneEvent {
  turn_id: string
  user_message_id: string
  assistant_message_id: string
  status: 'completed' | 'cancelled'
  finish_reason: string | null
  model: string | null
  ttft_ms: number | null
  latency_ms: number | null
  cost: number | null
}

export interface ErrorEvent {
  code: string
  message: string
  turn_id?: string
  user_message_id?: string
  assistant_message_id?: string
}

export interface StopResult {
  stopped: boolean
  turn_id: string | null
}

// Models (handlers/models/schemas.py), the part the chat and compare pages read.
export interface ModelOption {
  id: string
  alias: string
  name: string
  kind: string
  enabled: boolean
  provider_id: string | null
  capabilities: { reasoning: boolean; vision: boolean; tools: boolean; context_window: number | null }
  parameters: ChatParameters & Record<string, unknown>
  input_price_per_mtok: number | null
  output_price_per_mtok: number | null
}

// Prompt templates (handlers/prompts/schemas.py), as the chat's system-prompt picker reads them.
export interface TemplateVariable {
  name: string
  description?: string | null
  default?: string | null
  required?: boolean
}

export interface TemplateSummary {
  id: string
  name: string
  description: string | null
  category: string | null
  body: string
  variables: TemplateVariable[]
}

export interface KnowledgeBaseSummary {
  id: string
  name: string
  description: string | null
  document_count: number
}

/** What the session setup drawer edits: the system prompt and the knowledge bases. */
export interface SetupValue {
  mode: 'none' | 'custom' | 'template'
  system_prompt: string
  template_id: string | null
  variables: Record<string, string>
  knowledge_base_ids: string[]
  knowledge_top_k: number | null
}
