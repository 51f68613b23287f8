// Who is logged in, and what their role lets them do.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api } from '@/api/client'
import { refreshAccessToken, setAccessToken, setRefreshHandler, type TokenResponse } from '@/api/session'
import { PERMISSIONS, type Permission, type User } from '@/api/types'

// Built-in roles when /api/auth/me does not list permissions (mirrors handlers/auth/permissions.py).
const USER_DEFAULT: Permission[] = [
  'chat.use',
  'prompts.manage',
  'datasets.manage',
  'training.run',
  'knowledge.manage',
  'webhooks.manage',
  'events.read',
]

export const useAuthStore = defineStore('auth', () => {
  const user = ref<User | null>(null)
  const restored = ref(false)

  const permissions = computed<Set<string>>(() => {
    if (!user.value) return new Set()
    if (user.value.permissions) return new Set(user.value.permissions)
    return new Set(user.value.role === 'admin' ? PERMISSIONS : USER_DEFAULT)
  })

  function can(permission: Permission): boolean {
    return permissions.value.has(permission)
  }

  function accept(body: TokenResponse): void {
    setAccessToken(body.access_token)
    user.value = body.user as User
  }

  setRefreshHandler(accept)

  async function loadMe(): Promise<void> {
    user.value = await api.get<User>('/api/auth/me')
  }

  async function login(email: string, password: string): Promise<void> {
    accept(await api.post<TokenResponse>('/api/auth/login', { email, password }))
    await loadMe()
  }

  async function register(email: string, password: string): Promise<void> {
    await api.post('/api/auth/register', { email, password })
    await login(email, password)
  }

  /** On page load: the refresh cookie, if any, brings the session back. */
  async function restore(): Promise<void> {
    if (restored.value) return
    try {
      if (await refreshAccessToken()) await loadMe()
    } finally {
      restored.value = true
    }
  }

  async function logout(): Promise<void> {
    try {
      await api.post('/api/auth/logout', {})
    } finally {
      setAccessToken(null)
      user.value = null
    }
  }

  return { user, restored, permissions, can, login, register, restore, logout, loadMe }
})
