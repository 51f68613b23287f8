// English and Simplified Chinese. Shared words live in core.ts; each page folder under
// views/ keeps its own messages.ts ({ en, 'zh-CN' }), merged here under the folder name.
import { createI18n } from 'vue-i18n'
import core from './core'

export type Locale = 'en' | 'zh-CN'
export const LOCALES: { value: Locale; label: string }[] = [
  { value: 'en', label: 'English' },
  { value: 'zh-CN', label: '简体中文' },
]

type Tree = { [key: string]: string | Tree }
type Bundle = Record<Locale, Tree>

const pages = import.meta.glob<{ default: Bundle }>('../views/*/messages.ts', { eager: true })

function build(): Record<Locale, Tree> {
  const messages: Record<Locale, Tree> = { en: { ...core.en }, 'zh-CN': { ...core['zh-CN'] } }
  for (const [path, module] of Object.entries(pages)) {
    const area = path.split('/').at(-2) as string
    messages.en[area] = module.default.en
    messages['zh-CN'][area] = module.default['zh-CN']
  }
  return messages
}

export const i18n = createI18n({
  legacy: false,
  locale: 'en',
  fallbackLocale: 'en',
  messages: build(),
  missingWarn: false,
  fallbackWarn: false,
})
