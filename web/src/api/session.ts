// The access token lives in memory only; the refresh token is an HttpOnly cookie the
// browser sends to /api/auth/refresh. A page reload restores the session through it.

type Listener = (token: string | null) => void

let accessToken: string | null = null
const listeners = new Set<Listener>()
let refreshing: Promise<boolean> | null = null

export function getAccessToken(): string | null {
  return accessToken
}

export function setAccessToken(token: string | null): void {
  accessToken = token
  for (const listener of listeners) listener(token)
}

export function onTokenChange(listener: Listener): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

export interface TokenResponse {
  access_token: string
  expires_in: number
  token_type: string
  user: unknown
}

let onRefreshed: ((body: TokenResponse) => void) | null = null

export function setRefreshHandler(handler: (body: TokenResponse) => void): void {
  onRefreshed = handler
}

/**
 * Exchange the refresh cookie for a new access token. Every request that hit a 401 while
 * a refresh is running waits for that same refresh: one rotation, not one per request
 * (a second use of a rotated refresh token would revoke the whole family).
 */
export function refreshAccessToken(): Promise<boolean> {
  if (refreshing) return refreshing
  refreshing = (async () => {
    try {
      const response = await fetch('/api/auth/refresh', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
      if (!response.ok) {
        setAccessToken(null)
        return false
      }
      const body = (await response.json()) as TokenResponse
      setAccessToken(body.access_token)
      onRefreshed?.(body)
      return true
    } catch {
      return false
    } finally {
      refreshing = null
    }
  })()
  return refreshing
}
