// RFC 9457 problem details as the API sends them, turned into one Error type.

export interface FieldError {
  message: string
  key?: string // request validation (Litestar/msgspec)
  field?: string // domain checks (runtime/errors.py callers)
  source?: string
}

export interface ProblemBody {
  type?: string
  title?: string
  status?: number
  detail?: string
  code?: string
  errors?: FieldError[]
  [extra: string]: unknown
}

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly problem: ProblemBody

  constructor(status: number, problem: ProblemBody) {
    super(problem.detail || problem.title || `HTTP ${status}`)
    this.status = status
    this.code = problem.code ?? String(status)
    this.problem = problem
  }

  /** Field errors by field name, for form validation messages. */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const e of this.problem.errors ?? []) {
      const name = e.key ?? e.field
      if (name && typeof e.message === 'string') out[name.replace(/^body\./, '')] = e.message
    }
    return out
  }
}

export async function problemFrom(response: Response): Promise<ApiError> {
  let body: ProblemBody = { status: response.status, title: response.statusText }
  try {
    const text = await response.text()
    if (text) {
      const parsed: unknown = JSON.parse(text)
      if (parsed && typeof parsed === 'object') body = parsed as ProblemBody
    }
  } catch {
    // Not JSON (a proxy's HTML error page): keep the status line.
  }
  return new ApiError(response.status, body)
}

/** Field errors of any thrown value (empty unless it is a problem response). */
export function fieldErrorsOf(error: unknown): Record<string, string> {
  return error instanceof ApiError ? error.fieldErrors() : {}
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message
  if (error instanceof Error) return error.message
  return String(error)
}
