"""Knowledge bases (RAG): CRUD, uploads, the indexer consumer, search and retrieval."""

from handlers.knowledge.controller import KnowledgeBaseController
from handlers.knowledge.documents_controller import DocumentController
from handlers.knowledge.indexer import INDEX_SUBJECTS, indexer_consumer
from handlers.knowledge.retrieval import Citation, format_context, retrieve, search_bases

KNOWLEDGE_CONTROLLERS = [KnowledgeBaseController, DocumentController]

__all__ = [
    "INDEX_SUBJECTS",
    "KNOWLEDGE_CONTROLLERS",
    "Citation",
    "DocumentController",
    "KnowledgeBaseController",
    "format_context",
    "indexer_consumer",
    "retrieve",
    "search_bases",
]
