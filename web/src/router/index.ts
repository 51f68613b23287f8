// Every page, lazy-loaded; `permission` hides pages the caller's role cannot use.
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import type { Permission } from '@/api/types'
import { useAuthStore } from '@/stores/auth'

declare module 'vue-router' {
  interface RouteMeta {
    public?: boolean
    permission?: Permission
    title?: string
  }
}

const routes: RouteRecordRaw[] = [
  { path: '/login', name: 'login', component: () => import('@/views/auth/LoginView.vue'), meta: { public: true } },
  { path: '/register', name: 'register', component: () => import('@/views/auth/RegisterView.vue'), meta: { public: true } },
  {
    path: '/',
    component: () => import('@/layouts/AppLayout.vue'),
    children: [
      { path: '', redirect: { name: 'chat' } },
      { path: 'chat/:sessionId?', name: 'chat', component: () => import('@/views/chat/ChatView.vue'), meta: { permission: 'chat.use', title: 'nav.chat' } },
      { path: 'compare', name: 'compare', component: () => import('@/views/compare/CompareView.vue'), meta: { permission: 'chat.use', title: 'nav.compare' } },
      { path: 'prompts', name: 'prompts', component: () => import('@/views/prompts/PromptsView.vue'), meta: { permission: 'chat.use', title: 'nav.prompts' } },
      { path: 'aliases', name: 'aliases', component: () => import('@/views/loop/AliasesView.vue'), meta: { permission: 'chat.use', title: 'loop.nav.aliases' } },
      { path: 'providers', name: 'providers', component: () => import('@/views/providers/ProvidersView.vue'), meta: { permission: 'chat.use', title: 'nav.providers' } },
      { path: 'datasets', name: 'datasets', component: () => import('@/views/datasets/DatasetsView.vue'), meta: { permission: 'datasets.manage', title: 'nav.datasets' } },
      { path: 'collect', name: 'collect', component: () => import('@/views/loop/CollectView.vue'), meta: { permission: 'datasets.manage', title: 'loop.nav.collect' } },
      { path: 'training', name: 'training', component: () => import('@/views/training/TrainingView.vue'), meta: { permission: 'training.run', title: 'nav.training' } },
      { path: 'training/:jobId', name: 'training-job', component: () => import('@/views/training/TrainingJobView.vue'), meta: { permission: 'training.run', title: 'nav.training' } },
      { path: 'knowledge', name: 'knowledge', component: () => import('@/views/knowledge/KnowledgeView.vue'), meta: { permission: 'knowledge.manage', title: 'nav.knowledge' } },
      { path: 'knowledge/:kbId', name: 'knowledge-base', component: () => import('@/views/knowledge/KnowledgeBaseView.vue'), meta: { permission: 'knowledge.manage', title: 'nav.knowledge' } },
      { path: 'webhooks', name: 'webhooks', component: () => import('@/views/webhooks/WebhooksView.vue'), meta: { permission: 'webhooks.manage', title: 'nav.webhooks' } },
      { path: 'account', name: 'account', component: () => import('@/views/account/AccountView.vue'), meta: { title: 'nav.account' } },
      { path: 'admin/dashboard', name: 'admin-dashboard', component: () => import('@/views/admin/DashboardView.vue'), meta: { permission: 'usage.read', title: 'nav.dashboard' } },
      { path: 'admin/users', name: 'admin-users', component: () => import('@/views/admin/UsersView.vue'), meta: { permission: 'users.manage', title: 'nav.users' } },
      { path: 'admin/audit', name: 'admin-audit', component: () => import('@/views/admin/AuditView.vue'), meta: { permission: 'audit.read', title: 'nav.audit' } },
    ],
  },
  { path: '/:pathMatch(.*)*', redirect: '/' },
]

export const router = createRouter({ history: createWebHistory(), routes })

router.beforeEach(async (to) => {
  const auth = useAuthStore()
  await auth.restore()
  if (to.meta.public) return auth.user && to.name === 'login' ? { name: 'chat' } : true
  if (!auth.user) return { name: 'login', query: { next: to.fullPath } }
  if (to.meta.permission && !auth.can(to.meta.permission)) return { name: 'account' }
  return true
})
