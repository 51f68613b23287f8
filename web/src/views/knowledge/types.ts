// Shapes of handlers/knowledge (msgspec Structs) and its document events.

export interface KnowledgeBase {
  id: string
  owner_id: string
  name: string
  description: string | null
  embedding_model: string
  embedding_dimension: number | null
  chunk_size: number
  chunk_overlap: number
  shared: boolean
  document_count: number
  created_at: string
  updated_at: string
}

export type DocumentStatus = 'uploaded' | 'indexing' | 'indexed' | 'failed'

export interface KbDocument {
  id: string
  knowledge_base_id: string
  filename: string
  content_type: string | null
  size_bytes: number
  content_hash: string
  status: DocumentStatus | string
  num_chunks: number
  error: string | null
  error_reason: string | null
  created_at: string
  updated_at: string
  indexed_at: string | null
}

export interface SearchResult {
  text: string
  score: number
  document_id: string
  knowledge_base_id: string
  filename: string
  chunk_index: number
  metadata: Record<string, unknown>
}

export interface IndexingProgress {
  stage: string
  chunks_done: number
  chunks_total: number
}

export const LOCAL_EMBEDDING = 'all-MiniLM-L6-v2'
export const DOCUMENT_TYPES = '.txt,.md,.markdown,.html,.htm,.pdf,.docx,.csv,.json'
export const PENDING: string[] = ['uploaded', 'indexing']

export function docStatusType(status: string): 'success' | 'warning' | 'danger' | 'info' | 'primary' {
  if (status === 'indexed') return 'success'
  if (status === 'failed') return 'danger'
  if (status === 'indexing') return 'primary'
  return 'info'
}
