// tests/miniprogram/client.test.js - the mini-program client library
// (deploy/miniprogram) against the real server through nginx, with fake wx,
// uni and Taro objects (fakes.js). Counts are asserted exactly: a storm test
// that passed with two logins would not be a test of single flight.
//
//   WXAUTH_ENV_JSON=DIR/env.json node --test tests/miniprogram/
'use strict'
const test = require('node:test')
const assert = require('node:assert')
const { createClient, adapters } = require('../../deploy/miniprogram/src/index.js')
const f = require('./fakes.js')

function client (wx, extra) {
  return createClient(Object.assign({ baseURL: f.env.base_url, appid: f.APPID, adapter: adapters.wx(wx) }, extra))
}

const posts = (wx, path) => wx.calls.request.filter((r) => r.method === 'POST' && r.url.endsWith(path)).length

test('20 requests at app start: one wx.login, one jscode2session, one login, one token', async () => {
  const wx = f.fakeWx(f.person('start'))
  const c = client(wx)
  const m0 = await f.mockCalls()
  const s0 = await f.served('login')
  const answers = await Promise.all(Array.from({ length: 20 }, () => c.request({ url: '/v1/session' })))
  const m1 = await f.mockCalls()
  const s1 = await f.served('login')
  assert.strictEqual(wx.calls.login, 1)
  assert.strictEqual(m1.jscode2session - m0.jscode2session, 1)
  assert.strictEqual(s1 - s0, 1)
  assert.strictEqual(posts(wx, '/v1/login'), 1)
  const sessions = new Set(answers.map((a) => a.session_id))
  assert.strictEqual(sessions.size, 1)
  const auths = new Set(wx.calls.request.filter((r) => r.url.endsWith('/v1/session')).map((r) => r.auth))
  assert.strictEqual(auths.size, 1)
  assert.ok([...auths][0].startsWith('Bearer v4.'))
  console.log('storm at start: %d requests, %d wx.login, %d jscode2session, %d logins at the server',
    answers.length, wx.calls.login, m1.jscode2session - m0.jscode2session, s1 - s0)
})

/* A client whose stored access token is one the server finds expired,
 * while the client still believes it good (so the 401 path is taken). */
async function withExpiredToken (prefix) {
  const wx = f.fakeWx(f.person(prefix))
  const c = client(wx)
  await c.request({ url: '/v1/session' })
  const key = 'wxauth:' + f.APPID
  const st = wx.getStorageSync(key)
  const who = (await f.httpRequest({ url: f.env.base_url + '/v1/session', method: 'GET',
    header: { Authorization: 'Bearer ' + st.access_token } })).data
  const now = Math.floor(Date.now() / 1000)
  st.access_token = f.mint({ iss: 'wxauth-test', sub: who.user.id, sid: who.session_id, app: who.account.appid,
    oid: who.account.openid, iat: f.iso(now - 7300), exp: f.iso(now - 100) })
  wx.setStorageSync(key, st)
  return { wx, c: client(wx), who }
}

test('50 requests with a token that just expired: one refresh, all succeed, the session lives', async () => {
  const { wx, c, who } = await withExpiredToken('expired')
  const r0 = await f.served('refresh')
  const logins = wx.calls.login
  const answers = await Promise.all(Array.from({ length: 50 }, () => c.request({ url: '/v1/session' })))
  const r1 = await f.served('refresh')
  assert.strictEqual(posts(wx, '/v1/token/refresh'), 1)
  assert.strictEqual(r1 - r0, 1)
  assert.strictEqual(wx.calls.login, logins)
  assert.ok(answers.every((a) => a.session_id === who.session_id))
  assert.strictEqual(f.sql(`SELECT revoked_at IS NULL FROM sessions WHERE id = '${who.session_id}'`), 't')
  console.log('storm at expiry: 50 requests, %d refresh at the server, %d new wx.login',
    r1 - r0, wx.calls.login - logins)
})

test('logged out from another device: one new login, the request succeeds, no loop', async () => {
  const p = f.person('revoked')
  const wx = f.fakeWx(p)
  const c = client(wx)
  const first = await c.request({ url: '/v1/session' })
  const other = client(f.fakeWx(p))
  await other.login()
  await other.logout({ all: true })
  const before = wx.calls.request.length
  const again = await c.request({ url: '/v1/session' })
  assert.notStrictEqual(again.session_id, first.session_id)
  assert.strictEqual(wx.calls.login, 2)
  // The refused request, one login, the retry: three exchanges.
  assert.strictEqual(wx.calls.request.length - before, 3)
})

test('a refresh whose answer is lost: the retry within the grace gets the same pair', async () => {
  let lost = 0
  let dropped = null
  const base = await withExpiredToken('lost')
  const wx = f.fakeWx('unused', {
    hook (o, answer) {
      if (o.url.endsWith('/v1/token/refresh') && lost++ === 0) {
        // The server answered and committed; the answer never arrives.
        return answer.then((r) => { dropped = r.data; throw new Error('connection reset') })
      }
      return answer
    }
  })
  for (const [k, v] of base.wx.storage) wx.storage.set(k, v)
  const c = client(wx)
  await assert.rejects(c.request({ url: '/v1/session' }), (e) => e.error === 'network' && e.status === 0)
  assert.ok(dropped && dropped.access_token)
  const a = await c.request({ url: '/v1/session' })
  assert.strictEqual(a.session_id, base.who.session_id)
  const st = wx.getStorageSync('wxauth:' + f.APPID)
  assert.strictEqual(st.access_token, dropped.access_token)
  assert.strictEqual(st.refresh_token, dropped.refresh_token)
  assert.strictEqual(posts(wx, '/v1/token/refresh'), 2)
  assert.strictEqual(wx.calls.login, 0)
})

test('the server down: the error by name, the stored tokens kept, nothing retried', async () => {
  const wx = f.fakeWx(f.person('down'))
  const c = client(wx)
  await c.request({ url: '/v1/session' })
  const stored = wx.storage.get('wxauth:' + f.APPID)
  const down = createClient({ baseURL: 'http://127.0.0.1:9', appid: f.APPID, adapter: adapters.wx(wx) })
  const n = wx.calls.request.length
  await assert.rejects(down.request({ url: '/v1/session' }), (e) => e.error === 'network' && e.status === 0)
  assert.strictEqual(wx.calls.request.length - n, 1)
  assert.strictEqual(wx.storage.get('wxauth:' + f.APPID), stored)
})

test('WeChat down at login: the server\'s error by name, one attempt, nothing stored', async () => {
  const wx = f.fakeWx(f.person('wxdown'), { directive: 'html' })
  const c = client(wx)
  await assert.rejects(c.request({ url: '/v1/session' }), (e) => {
    assert.ok(e.status >= 500 && e.status < 600, String(e.status))
    assert.ok(e.error && e.error !== 'network' && !!e.requestId, JSON.stringify(e))
    return true
  })
  assert.strictEqual(wx.calls.login, 1)
  assert.strictEqual(posts(wx, '/v1/login'), 1)
  assert.strictEqual(wx.calls.request.length, 1)
  assert.strictEqual(wx.storage.size, 0)
})

test('session_key_stale on decrypt: one wx.login, one login, the caller told to ask again', async () => {
  const p = f.person('stale')
  const wx = f.fakeWx(p)
  const c = client(wx)
  await c.request({ url: '/v1/session' })
  // wx.login called elsewhere: WeChat's session_key is no longer the stored one.
  const app = f.env.apps.find((a) => a.name === 'mp1')
  const q = new URLSearchParams({ appid: app.appid, secret: app.secret, js_code: p + '.elsewhere', grant_type: 'authorization_code' })
  await f.httpRequest({ url: f.env.mock_url + '/sns/jscode2session?' + q, method: 'GET', header: {} })
  const logins = wx.calls.login
  const before = posts(wx, '/v1/login')
  await assert.rejects(c.decrypt({ encryptedData: Buffer.alloc(32, 7).toString('base64'), iv: Buffer.alloc(16, 1).toString('base64') }),
    (e) => e.error === 'session_key_stale' && e.askAgain === true && e.status === 409)
  assert.strictEqual(wx.calls.login - logins, 1)
  assert.strictEqual(posts(wx, '/v1/login') - before, 1)
  // The new session works.
  assert.ok((await c.request({ url: '/v1/session' })).session_id)
})

test('uni-app and Taro adapters: login and a request each', async () => {
  const uniWx = f.fakeWx(f.person('uni'))
  const uni = createClient({ baseURL: f.env.base_url, appid: f.APPID, adapter: adapters.uni(uniWx) })
  assert.ok((await uni.request({ url: '/v1/userinfo' })).user.id)
  assert.strictEqual(uniWx.calls.login, 1)
  const taroWx = f.fakeWx(f.person('taro'))
  const taro = createClient({ baseURL: f.env.base_url, appid: f.APPID, adapter: adapters.taro(f.fakeTaro(taroWx)) })
  const who = await taro.login()
  assert.ok(who.user.id && who.account.openid)
  assert.strictEqual((await taro.request({ url: '/v1/session' })).user.id, who.user.id)
  assert.strictEqual(taroWx.calls.login, 1)
})

test('logout forgets the tokens; errors carry the server\'s name', async () => {
  const wx = f.fakeWx(f.person('out'))
  const c = client(wx)
  await c.request({ url: '/v1/session' })
  await assert.rejects(c.request({ url: '/v1/no-such-route' }), (e) => e.status === 404 && e.error === 'not_found' && !!e.requestId)
  await c.logout()
  assert.strictEqual(wx.storage.size, 0)
  assert.strictEqual(c.session, null)
})

test('the library is ES2017 CommonJS without dependencies', () => {
  const fs = require('fs')
  const src = fs.readFileSync(require.resolve('../../deploy/miniprogram/src/index.js'), 'utf8')
  const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
  // Later syntax WeChat's older base libraries refuse without a compile step:
  // optional chaining, nullish coalescing, spread in objects (ES2018+),
  // Promise.prototype.finally, optional catch binding, ES modules.
  for (const [what, re] of [['?.', /\?\./], ['??', /\?\?/], ['...', /\.\.\./], ['.finally(', /\.finally\(/],
    ['catch {', /catch\s*\{/], ['import', /^\s*import\s/m]]) {
    assert.ok(!re.test(code), 'the library uses ' + what)
  }
  assert.match(code, /module\.exports = /)
  const pkg = JSON.parse(fs.readFileSync(require.resolve('../../deploy/miniprogram/package.json'), 'utf8'))
  assert.deepStrictEqual(pkg.dependencies, {})
  assert.strictEqual(pkg.miniprogram, 'src')
  assert.strictEqual(pkg.main, 'src/index.js')
  assert.ok(fs.existsSync(require.resolve('../../deploy/miniprogram/package.json').replace('package.json', pkg.types)))
  const lines = src.split('\n').length
  assert.ok(lines < 400, 'small enough to read in one sitting: ' + lines + ' lines')
})

test('a 503 with a short Retry-After: one retry for a GET, none for a POST', async () => {
  let busy = 0
  const wx = f.fakeWx(f.person('busy'), {
    hook (o, answer) {
      if (o.url.endsWith('/v1/session') || o.url.endsWith('/v1/logout')) {
        if (busy++ % 2 === 0) {
          return answer.then(() => ({ statusCode: 503, header: { 'Retry-After': '1', 'X-Request-Id': 'r503' },
            data: { error: 'db_unavailable', message: 'busy', request_id: 'r503' } }))
        }
      }
      return answer
    }
  })
  const c = client(wx)
  const t0 = Date.now()
  assert.ok((await c.request({ url: '/v1/session' })).session_id)
  assert.ok(Date.now() - t0 >= 900)
  assert.strictEqual(wx.calls.request.filter((r) => r.url.endsWith('/v1/session')).length, 2)
  busy = 0
  await assert.rejects(c.request({ url: '/v1/logout', method: 'POST', data: {} }),
    (e) => e.status === 503 && e.error === 'db_unavailable' && e.retryAfter === 1 && e.requestId === 'r503')
  assert.strictEqual(wx.calls.request.filter((r) => r.url.endsWith('/v1/logout')).length, 1)
})
