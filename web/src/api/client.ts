// The one way the app talks to the API: JSON in and out, bearer auth, one refresh on 401.
import { ApiError, problemFrom } from './problem'
import { getAccessToken, refreshAccessToken } from './session'

export type Query = Record<string, string | number | boolean | null | undefined | string[]>

export interface RequestOptions {
  query?: Query
  body?: unknown
  headers?: Record<string, string>
  signal?: AbortSignal
}

export interface Page<T> {
  items: T[]
  total: number
  limit: number
  offset: number
}

export function buildUrl(path: string, query?: Query): string {
  if (!query) return path
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue
    if (Array.isArray(value)) value.forEach((v) => params.append(key, v))
    else params.set(key, String(value))
  }
  const qs = params.toString()
  return qs ? `${path}?${qs}` : path
}

function authHeaders(extra?: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = { ...extra }
  const token = getAccessToken()
  if (token) headers.authorization = `Bearer ${token}`
  return headers
}

/** fetch with the bearer token; on 401 refresh once (shared by all callers) and retry. */
export async function authorizedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const send = () =>
    fetch(url, {
      ...init,
      credentials: 'same-origin',
      headers: authHeaders(init.headers as Record<string, string> | undefined),
    })
  let response = await send()
  if (response.status === 401 && !url.startsWith('/api/auth/login')) {
    if (await refreshAccessToken()) response = await send()
  }
  return response
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers }
  let body: BodyInit | undefined
  if (options.body instanceof FormData) {
    body = options.body
  } else if (options.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.body)
  }
  const response = await authorizedFetch(buildUrl(path, options.query), {
    method,
    headers,
    body,
    signal: options.signal,
  })
  if (!response.ok) throw await problemFrom(response)
  if (response.status === 204) return undefined as T
  const type = response.headers.get('content-type') ?? ''
  if (type.includes('json')) return (await response.json()) as T
  return (await response.text()) as T
}

export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>('GET', path, { query, signal }),
  post: <T>(path: string, body?: unknown, options: RequestOptions = {}) => request<T>('POST', path, { ...options, body }),
  put: <T>(path: string, body?: unknown) => request<T>('PUT', path, { body }),
  patch: <T>(path: string, body?: unknown) => request<T>('PATCH', path, { body }),
  delete: <T = void>(path: string) => request<T>('DELETE', path),
}

/** Download a file the API produces (CSV exports, reports) with the bearer token. */
export async function download(path: string, query: Query | undefined, filename: string): Promise<void> {
  const response = await authorizedFetch(buildUrl(path, query))
  if (!response.ok) throw await problemFrom(response)
  const url = URL.createObjectURL(await response.blob())
  const link = document.createElement('a')
  link.href = url
  link.download = filename
  link.click()
  URL.revokeObjectURL(url)
}

/**
 * Multipart upload with progress (fetch cannot report upload progress, XHR can).
 * Retries once after a token refresh, like every other call.
 */
export function upload<T>(path: string, form: FormData, onProgress?: (percent: number) => void): Promise<T> {
  const attempt = () =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const xhr = new XMLHttpRequest()
      xhr.open('POST', path)
      const token = getAccessToken()
      if (token) xhr.setRequestHeader('authorization', `Bearer ${token}`)
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable && onProgress) onProgress(Math.round((e.loaded / e.total) * 100))
      }
      xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText })
      xhr.onerror = () => reject(new Error('Network error during upload'))
      xhr.send(form)
    })
  return (async () => {
    let result = await attempt()
    if (result.status === 401 && (await refreshAccessToken())) result = await attempt()
    if (result.status >= 400) {
      throw await problemFrom(new Response(result.text, { status: result.status }))
    }
    onProgress?.(100)
    return (result.text ? JSON.parse(result.text) : undefined) as T
  })()
}

export { ApiError }
