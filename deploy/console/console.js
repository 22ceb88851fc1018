// deploy/console/console.js - the operators' console: sign in by scanning a
// mini-program code (the PC scan login), then find customers and act. Every
// value from the server is shown with textContent, never as HTML (nicknames
// are what people typed). The console's CSRF token lives in this page's
// memory only; the console session is an HttpOnly cookie.
'use strict'

const $ = (id) => document.getElementById(id)
const appid = document.body.dataset.appid
let csrf = null
let current = null

function show (screen) {
  document.body.dataset.screen = screen
  for (const s of ['signin', 'find', 'user', 'log', 'health', 'merges-all']) $(s).hidden = s !== screen
  $('signout').hidden = screen === 'signin'
}

async function api (method, path, body, extra) {
  const headers = Object.assign({ Accept: 'application/json' }, extra || {})
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (csrf && method !== 'GET') headers['X-CSRF-Token'] = csrf
  const r = await fetch(path, { method, headers, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body) })
  const j = await r.json().catch(() => ({}))
  if (!r.ok) {
    throw Object.assign(new Error(j.message || r.statusText),
      { error: j.error, status: r.status, requestId: j.request_id || r.headers.get('X-Request-Id') })
  }
  return j
}

const problem = (e) => (e.error || 'error') + ': ' + e.message + (e.requestId ? ' (request ' + e.requestId + ')' : '')

function cell (tr, text) {
  const td = document.createElement('td')
  td.textContent = text == null ? '' : String(text)
  tr.appendChild(td)
  return td
}

function button (tr, label, onclick) {
  const td = document.createElement('td')
  const b = document.createElement('button')
  b.type = 'button'
  b.textContent = label
  b.addEventListener('click', onclick)
  td.appendChild(b)
  tr.appendChild(td)
}

function rows (table, items, fill) {
  const tb = $(table).querySelector('tbody')
  tb.replaceChildren()
  if (!items.length) {
    const tr = document.createElement('tr')
    cell(tr, 'none').colSpan = $(table).querySelectorAll('th').length
    tb.appendChild(tr)
  }
  for (const it of items) {
    const tr = document.createElement('tr')
    fill(tr, it)
    tb.appendChild(tr)
  }
}

// ---- sign in: the PC scan login, then a console session

async function signin () {
  $('signin-again').hidden = true
  $('signin-state').textContent = 'Preparing a code…'
  try {
    const req = await api('POST', '/v1/scan', { appid })
    $('code').src = req.code_url
    $('code').hidden = false
    $('signin-state').textContent = 'Scan the code with WeChat'
    poll(req.id)
  } catch (e) {
    fail(e)
  }
}

function poll (id) {
  setTimeout(async () => {
    try {
      const st = await api('GET', '/v1/scan/' + encodeURIComponent(id))
      if (st.status === 'pending' || st.status === 'scanned') {
        if (st.status === 'scanned') $('signin-state').textContent = 'Scanned: confirm on your phone'
        return poll(id)
      }
      if (st.status !== 'confirmed' || !st.ticket) {
        $('signin-state').textContent = 'The code is ' + st.status
        $('signin-again').hidden = false
        return
      }
      const t = await api('POST', '/v1/login', { ticket: st.ticket })
      const c = await api('POST', '/v1/console/session', undefined, { Authorization: 'Bearer ' + t.access_token })
      csrf = c.csrf
      $('me').textContent = c.role + ' ' + c.user_id
      show('find')
      $('q').focus()
    } catch (e) {
      fail(e)
    }
  }, 1000)
}

function fail (e) {
  $('signin-state').textContent = problem(e)
  $('signin-again').hidden = false
}

// ---- find

async function find (ev) {
  ev.preventDefault()
  $('find-state').textContent = 'Looking…'
  $('results').hidden = true
  try {
    const q = new URLSearchParams({ by: $('by').value, q: $('q').value })
    const users = await api('GET', '/v1/console/users?' + q)
    $('find-state').textContent = users.length ? users.length + ' found' : 'Nobody found'
    rows('results', users, (tr, u) => {
      tr.className = 'pick'
      tr.tabIndex = 0
      cell(tr, u.nickname)
      cell(tr, u.pure_phone_number)
      cell(tr, u.id)
      cell(tr, u.deleted ? 'deleted' : u.merged_into ? 'merged into ' + u.merged_into : u.disabled ? 'disabled' : 'active')
      tr.addEventListener('click', () => open(u.merged_into || u.id))
      tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(u.merged_into || u.id) })
    })
    $('results').hidden = !users.length
  } catch (e) {
    $('find-state').textContent = problem(e)
  }
}

// ---- a user

async function open (id) {
  current = id
  show('user')
  $('user-state').textContent = 'Loading…'
  try {
    const d = await api('GET', '/v1/console/users/' + encodeURIComponent(id))
    const u = d.user
    $('user-title').textContent = u.nickname || u.id
    const facts = $('user-facts')
    facts.replaceChildren()
    for (const [k, v] of [['User', u.id], ['Unionid', u.unionid], ['Phone', u.pure_phone_number],
      ['Since', u.created_at], ['Disabled', u.disabled_at || 'no'], ['Merged into', u.merged_into]]) {
      if (v == null) continue
      const dt = document.createElement('dt')
      dt.textContent = k
      const dd = document.createElement('dd')
      dd.textContent = v
      facts.append(dt, dd)
    }
    $('act-disable').hidden = !!u.disabled_at
    $('act-enable').hidden = !u.disabled_at
    rows('accounts', d.accounts, (tr, a) => {
      cell(tr, a.appid); cell(tr, a.openid); cell(tr, a.last_login)
      if (d.accounts.length > 1) button(tr, 'Unlink', () => act('unlink', { appid: a.appid }))
      else cell(tr, '')
    })
    rows('sessions', d.sessions, (tr, s) => {
      cell(tr, s.appid); cell(tr, s.via); cell(tr, s.user_agent); cell(tr, s.ip); cell(tr, s.created_at)
    })
    rows('merges', d.merges, (tr, m) => {
      cell(tr, m.at); cell(tr, m.from_user); cell(tr, m.into_user); cell(tr, m.reason + (m.undone ? ' (undone)' : ''))
      if (m.undone) cell(tr, '')
      else button(tr, 'Undo', () => undo(m.id))
    })
    rows('audit', d.audit, (tr, l) => { cell(tr, l.at); cell(tr, l.event); cell(tr, JSON.stringify(l.detail)) })
    $('user-state').textContent = ''
  } catch (e) {
    $('user-state').textContent = problem(e)
  }
}

async function undo (id) {
  $('user-state').textContent = 'Working…'
  try {
    await api('POST', '/v1/console/merges/' + encodeURIComponent(id) + '/undo', {})
    await open(current)
    $('user-state').textContent = 'Done: the merge is undone'
  } catch (e) {
    $('user-state').textContent = problem(e)
  }
}

async function log (ev) {
  if (ev) ev.preventDefault()
  show('log')
  $('log-state').textContent = 'Loading…'
  try {
    const q = new URLSearchParams()
    for (const k of ['operator', 'user', 'event']) {
      const v = $('log-' + k).value.trim()
      if (v) q.set(k, v)
    }
    const items = await api('GET', '/v1/console/audit?' + q)
    rows('log-rows', items, (tr, l) => {
      cell(tr, l.at); cell(tr, l.event); cell(tr, l.user_id); cell(tr, JSON.stringify(l.detail))
    })
    $('log-state').textContent = items.length + ' rows'
  } catch (e) {
    $('log-state').textContent = problem(e)
  }
}

async function merges () {
  show('merges-all')
  $('merges-state').textContent = 'Loading…'
  try {
    const items = await api('GET', '/v1/console/merges')
    rows('merges-rows', items, (tr, m) => {
      cell(tr, m.at); cell(tr, m.from_user); cell(tr, m.into_user); cell(tr, m.reason + (m.undone ? ' (undone)' : ''))
      if (m.undone) cell(tr, '')
      else {
        button(tr, 'Undo', async () => {
          try {
            await api('POST', '/v1/console/merges/' + encodeURIComponent(m.id) + '/undo', {})
            await merges()
            $('merges-state').textContent = 'Done: the merge is undone'
          } catch (e) {
            $('merges-state').textContent = problem(e)
          }
        })
      }
    })
    $('merges-state').textContent = 'Newest merges first: ' + items.length + ' shown'
  } catch (e) {
    $('merges-state').textContent = problem(e)
  }
}

async function health () {
  show('health')
  $('health-state').textContent = 'Loading…'
  try {
    const h = await api('GET', '/v1/console/health')
    const facts = $('health-facts')
    facts.replaceChildren()
    for (const [k, v] of [['Database', h.database],
      ['Main pool', h.pools.main.alive + ' of ' + h.pools.main.configured + ' workers'],
      ['Gate pool', h.pools.gate.alive + ' of ' + h.pools.gate.configured + ' workers'],
      ['Phone numbers today', h.phone_codes_today]]) {
      const dt = document.createElement('dt')
      dt.textContent = k
      const dd = document.createElement('dd')
      dd.textContent = v == null ? 'unknown' : String(v)
      facts.append(dt, dd)
    }
    rows('health-tokens', h.tokens || [], (tr, t) => {
      cell(tr, t.appid); cell(tr, t.fetched_at); cell(tr, t.age_seconds + ' s'); cell(tr, t.expires_at)
    })
    rows('health-calls', h.wechat_calls, (tr, c) => { cell(tr, c.api); cell(tr, c.errcode); cell(tr, c.calls) })
    // Per API: every answer but errcode 0 is an error (timeouts included).
    const per = {}
    for (const c of h.wechat_calls) {
      const p = per[c.api] || (per[c.api] = { calls: 0, errors: 0 })
      p.calls += c.calls
      if (c.errcode !== 0) p.errors += c.calls
    }
    rows('health-rates', Object.keys(per).sort().map((api) => Object.assign({ api }, per[api])), (tr, p) => {
      cell(tr, p.api); cell(tr, p.calls); cell(tr, p.errors)
      cell(tr, p.calls ? (100 * p.errors / p.calls).toFixed(1) + ' %' : '–')
    })
    $('health-state').textContent = ''
  } catch (e) {
    $('health-state').textContent = problem(e)
  }
}

async function act (what, body) {
  $('user-state').textContent = 'Working…'
  try {
    const r = await api('POST', '/v1/console/users/' + encodeURIComponent(current) + '/' + what, body || {})
    await open(current)
    $('user-state').textContent = 'Done: ' + r.done + (r.revoked ? ', ' + r.revoked + ' sessions ended' : '')
  } catch (e) {
    $('user-state').textContent = problem(e)
  }
}

$('signin-again').addEventListener('click', signin)
$('find-form').addEventListener('submit', find)
$('back').addEventListener('click', (e) => { e.preventDefault(); show('find') })
$('act-revoke').addEventListener('click', () => act('revoke'))
$('act-disable').addEventListener('click', () => act('disable'))
$('act-enable').addEventListener('click', () => act('enable'))
$('delete-form').addEventListener('submit', (e) => {
  e.preventDefault()
  act('delete', { confirm: $('delete-confirm').value.trim() })
})
$('log-form').addEventListener('submit', log)
$('nav-audit').addEventListener('click', (e) => { e.preventDefault(); if (csrf) log() })
$('nav-merges').addEventListener('click', (e) => { e.preventDefault(); if (csrf) merges() })
$('nav-health').addEventListener('click', (e) => { e.preventDefault(); if (csrf) health() })
$('nav-find').addEventListener('click', (e) => { e.preventDefault(); if (csrf) show('find') })
$('signout').addEventListener('click', async () => {
  try { await api('DELETE', '/v1/console/session') } catch (e) {}
  csrf = null
  $('me').textContent = ''
  show('signin')
  signin()
})
show('signin')
signin()
