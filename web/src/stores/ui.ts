// Appearance and language, remembered in this browser.
import { defineStore } from 'pinia'
import { ref, watch } from 'vue'
import { i18n, type Locale } from '@/i18n'

const THEME_KEY = 'llmforge.theme'
const LOCALE_KEY = 'llmforge.locale'

function initialDark(): boolean {
  const saved = localStorage.getItem(THEME_KEY)
  if (saved) return saved === 'dark'
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false
}

function initialLocale(): Locale {
  const saved = localStorage.getItem(LOCALE_KEY)
  if (saved === 'en' || saved === 'zh-CN') return saved
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en'
}

export const useUiStore = defineStore('ui', () => {
  const dark = ref(initialDark())
  const locale = ref<Locale>(initialLocale())

  watch(
    dark,
    (value) => {
      document.documentElement.classList.toggle('dark', value)
      localStorage.setItem(THEME_KEY, value ? 'dark' : 'light')
    },
    { immediate: true },
  )
  watch(
    locale,
    (value) => {
      i18n.global.locale.value = value
      document.documentElement.lang = value
      localStorage.setItem(LOCALE_KEY, value)
    },
    { immediate: true },
  )

  return { dark, locale }
})
