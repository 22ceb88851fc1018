// deploy/scan/scan.js - the PC page of the scan login: ask wxauth for a login
// request, show its code, poll its status about once a second (each poll a
// short request: a waiting page never holds a worker), and on confirmation
// trade the one-time ticket (POST /v1/login {"ticket"}) with this browser's
// own cookie. Nothing in the page's URL or the code is a credential.
'use strict'

const $ = (id) => document.getElementById(id)
const say = (state, text) => {
  document.body.dataset.state = state
  $('state').textContent = text
}
const appid = new URLSearchParams(location.search).get('appid') || document.body.dataset.appid
let timer = null

async function json (method, path, body, token) {
  const headers = { Accept: 'application/json' }
  if (body) headers['Content-Type'] = 'application/json'
  if (token) headers.Authorization = 'Bearer ' + token
  const r = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined,
    credentials: 'same-origin', cache: 'no-store' })
  const j = await r.json().catch(() => ({}))
  if (!r.ok) throw Object.assign(new Error(j.message || r.statusText), { error: j.error, status: r.status })
  return j
}

async function start () {
  clearTimeout(timer)
  $('again').hidden = true
  $('warn').hidden = true
  $('code').hidden = true
  say('preparing', 'Preparing a code…')
  try {
    const req = await json('POST', '/v1/scan', { appid })
    $('code').src = req.code_url
    $('code').hidden = false
    say('pending', 'Scan the code with WeChat')
    poll(req.id, (req.poll_interval || 1) * 1000)
  } catch (e) {
    fail(e)
  }
}

function poll (id, every) {
  timer = setTimeout(async () => {
    let st
    try {
      st = await json('GET', '/v1/scan/' + encodeURIComponent(id))
    } catch (e) {
      return fail(e)
    }
    $('warn').hidden = !(st.refused > 0)
    switch (st.status) {
      case 'pending':
        return poll(id, every)
      case 'scanned':
        say('scanned', 'Scanned: confirm on your phone')
        return poll(id, every)
      case 'confirmed':
        return st.ticket ? finish(st.ticket) : over('expired', 'This code was used: show a new one')
      case 'cancelled':
        return over('cancelled', 'Cancelled on the phone')
      default:
        return over('expired', 'The code expired')
    }
  }, every)
}

async function finish (ticket) {
  say('confirmed', 'Confirmed: logging in…')
  try {
    const t = await json('POST', '/v1/login', { ticket })
    const me = await json('GET', '/v1/session', null, t.access_token)
    sessionStorage.setItem('wxauth', JSON.stringify({ access_token: t.access_token, refresh_token: t.refresh_token }))
    $('box').hidden = true
    $('user').textContent = me.user.id
    $('account').textContent = me.account.appid + ' / ' + me.account.openid
    $('done').hidden = false
    say('done', 'Logged in')
  } catch (e) {
    fail(e)
  }
}

function over (state, text) {
  say(state, text)
  $('again').hidden = false
}

function fail (e) {
  over('error', 'Something went wrong (' + (e.error || e.message) + ')')
}

$('again').addEventListener('click', start)
start()
