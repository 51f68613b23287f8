// User id → e-mail, for pages that show ids (audit actors, quota subjects). Loaded once per
// page visit from /api/admin/users when the caller may list users; otherwise ids stay ids.
import { reactive } from 'vue'
import { api, type Page } from '@/api/client'
import type { User } from '@/api/types'

const PAGE = 200
const MAX_PAGES = 10

export const userEmails = reactive(new Map<string, string>())
let loading: Promise<void> | null = null

export function rememberUsers(users: User[]): void {
  for (const u of users) userEmails.set(u.id, u.email)
}

export function loadUserDirectory(force = false): Promise<void> {
  if (loading && !force) return loading
  loading = (async () => {
    try {
      for (let page = 0; page < MAX_PAGES; page++) {
        const result = await api.get<Page<User>>('/api/admin/users', { limit: PAGE, offset: page * PAGE })
        rememberUsers(result.items)
        if ((page + 1) * PAGE >= result.total) break
      }
    } catch {
      // Without users.manage the ids are shown as they are.
    }
  })()
  return loading
}

export function emailOf(id: string | null | undefined): string | undefined {
  return id ? userEmails.get(id) : undefined
}
