// Helpers shared by the admin, account and webhooks pages.
import type { Directive } from 'vue'

const observers = new WeakMap<HTMLElement, MutationObserver>()

function tagRows(el: HTMLElement, id: string): void {
  el.querySelectorAll<HTMLTableRowElement>('tbody tr.el-table__row').forEach((tr) => {
    if (tr.dataset.testid !== id) tr.dataset.testid = id
  })
}

/**
 * `v-row-testid="'user-row'"` on an `<el-table>`: puts `data-testid` on every body row
 * (Element Plus only lets a page set row classes), for browser tests.
 */
export const vRowTestid: Directive<HTMLElement, string> = {
  mounted(el, binding) {
    tagRows(el, binding.value)
    const observer = new MutationObserver(() => tagRows(el, binding.value))
    observer.observe(el, { childList: true, subtree: true })
    observers.set(el, observer)
  },
  unmounted(el) {
    observers.get(el)?.disconnect()
    observers.delete(el)
  },
}

/** ISO time of a date-time picker value (or undefined when empty). */
export function isoOrUndefined(value: Date | string | null | undefined): string | undefined {
  if (!value) return undefined
  const date = value instanceof Date ? value : new Date(value)
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString()
}
