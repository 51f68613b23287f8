// Shapes shared by several pages. Page-specific shapes live beside their page.

export interface User {
  id: string
  email: string
  display_name: string | null
  role: string
  is_active: boolean
  created_at: string
  permissions?: string[]
}

export const PERMISSIONS = [
  'chat.use',
  'prompts.manage',
  'providers.manage',
  'datasets.manage',
  'training.run',
  'knowledge.manage',
  'webhooks.manage',
  'events.read',
  'users.manage',
  'quotas.manage',
  'usage.read',
  'audit.read',
] as const

export type Permission = (typeof PERMISSIONS)[number]

export interface ModelConfig {
  id: string
  name: string
  alias: string
  provider_id: string | null
  model_id: string
  enabled: boolean
  capabilities?: Record<string, unknown>
  parameters?: Record<string, unknown>
  [extra: string]: unknown
}
