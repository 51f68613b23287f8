// Votes on a run. A run is saved by a consumer a moment after its stream ends, so a vote
// cast right away may meet a 404 first: it is retried for a few seconds.
import { api } from '@/api/client'
import { ApiError } from '@/api/problem'
import type { VoteRead } from './types'

export async function castVote(runId: string, winner: string | null, attempts = 12): Promise<VoteRead> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await api.post<VoteRead>(`/api/compare/runs/${runId}/vote`, { winner_model_config_id: winner })
    } catch (e) {
      const notYet = e instanceof ApiError && e.status === 404 && e.code === 'compare_run_not_found'
      if (!notYet || attempt >= attempts) throw e
      await new Promise((resolve) => setTimeout(resolve, 250 * Math.min(attempt, 4)))
    }
  }
}
