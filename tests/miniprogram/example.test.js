// tests/miniprogram/example.test.js - the sample mini-program's profile page
// (deploy/miniprogram/example) run as WeChat would run it: App() and Page()
// definitions, getApp(), its handlers called with the events the
// components send, on a fake wx that speaks to the real server.
'use strict'
const test = require('node:test')
const assert = require('node:assert')
const fs = require('fs')
const os = require('os')
const path = require('path')
const zlib = require('zlib')
const Module = require('module')
const f = require('./fakes.js')

const EXAMPLE = path.join(__dirname, '../../deploy/miniprogram/example')
const LIB = path.join(__dirname, '../../deploy/miniprogram/src/index.js')

/* A page of the example (pages/me/me.js by default), loaded as the
 * mini-program loads it, on wx. */
function loadPage (wx, file) {
  let appDef = null
  let pageDef = null
  global.wx = wx
  global.App = (d) => { appDef = d }
  global.getApp = () => appDef
  global.Page = (d) => { pageDef = d }
  const resolve = Module._resolveFilename
  Module._resolveFilename = function (req, ...rest) {
    return req === 'wxauth-miniprogram' ? LIB : resolve.call(this, req, ...rest)
  }
  try {
    for (const f of ['app.js', file || 'pages/me/me.js']) {
      const p = path.join(EXAMPLE, f)
      delete require.cache[p]
      require(p)
    }
  } finally {
    Module._resolveFilename = resolve
  }
  // baseURL is the shop's; the test's server instead.
  appDef.auth = require(LIB).createClient({ baseURL: f.env.base_url, appid: f.APPID })
  const page = Object.assign({ data: JSON.parse(JSON.stringify(pageDef.data)) }, pageDef)
  page.setData = (d) => Object.assign(page.data, d)
  return page
}

function chunk (kind, data) {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(kind), data])))
  return Buffer.concat([len, Buffer.from(kind), data, crc])
}

function crc32 (b) {
  let c = 0xffffffff
  for (const x of b) {
    c ^= x
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  }
  return (c ^ 0xffffffff) >>> 0
}

function png () {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(1, 0)
  ihdr.writeUInt32BE(1, 4)
  ihdr.set([8, 6, 0, 0, 0], 8)
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.from([0, 255, 0, 0, 255]))), chunk('IEND', Buffer.alloc(0))])
}

test('the profile page: load, avatar, nickname, phone', async (t) => {
  const who = f.person('page')
  const wx = f.fakeWx(who)
  const page = loadPage(wx)
  await page.onLoad()
  assert.strictEqual(page.data.error, '')
  assert.ok(page.data.user.id)
  assert.strictEqual(wx.calls.login, 1)

  // chooseAvatar hands a temporary file; the page uploads it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxauth-avatar-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const tmp = path.join(dir, 'tmp_avatar.png')
  fs.writeFileSync(tmp, png())
  await page.onChooseAvatar({ detail: { avatarUrl: tmp } })
  assert.strictEqual(page.data.error, '')
  const url = page.data.user.avatar_url
  assert.ok(url.startsWith(f.env.base_url + '/v1/avatars/'), url)
  const img = await f.httpRequest({ url, method: 'GET', header: {} })
  assert.strictEqual(img.statusCode, 200)
  assert.strictEqual(img.header['content-type'], 'image/png')

  await page.onNickname({ detail: { value: '  小明  ' } })
  assert.strictEqual(page.data.user.nickname, '小明')
  await page.onNickname({ detail: { value: '   ' } })
  assert.strictEqual(page.data.user.nickname, '小明')

  // getPhoneNumber: declined (no code) does nothing; a code gives the number.
  const n = wx.calls.request.length
  await page.onGetPhoneNumber({ detail: { errMsg: 'getPhoneNumber:fail user deny' } })
  assert.strictEqual(wx.calls.request.length, n)
  await page.onGetPhoneNumber({ detail: { code: who + '.phone' + Date.now() } })
  assert.strictEqual(page.data.error, '')
  assert.match(page.data.phone, /^\+86 138\d{8}$/)
  // Still the one login of the start.
  assert.strictEqual(wx.calls.login, 1)

  // A file that is not an image: the server's refusal, by name, on the page.
  fs.writeFileSync(tmp, '<svg xmlns="http://www.w3.org/2000/svg"/>')
  await page.onChooseAvatar({ detail: { avatarUrl: tmp } })
  assert.strictEqual(page.data.error, 'unsupported_media_type')
  assert.strictEqual(page.data.user.avatar_url, url)
})

/* A PC's login request, as the PC page makes it: its id and cookie. */
async function pcRequest () {
  const r = await f.httpRequest({ url: f.env.base_url + '/v1/scan', method: 'POST', data: { appid: f.APPID },
    header: { 'Content-Type': 'application/json' } })
  assert.strictEqual(r.statusCode, 200)
  const cookie = r.header['set-cookie'][0].split(';')[0]
  const status = async () => (await f.httpRequest({ url: f.env.base_url + '/v1/scan/' + r.data.id,
    method: 'GET', header: { Cookie: cookie } })).data
  return { id: r.data.id, cookie, status }
}

test('the scan confirmation page: scanned, confirmed, the PC logged in as the person', async () => {
  const pc = await pcRequest()
  const wx = f.fakeWx(f.person('scanpage'))
  const page = loadPage(wx, 'pages/scan/scan.js')
  await page.onLoad({ scene: encodeURIComponent(pc.id) })
  assert.strictEqual(page.data.state, 'scanned', page.data.error)
  assert.strictEqual((await pc.status()).status, 'scanned')
  await page.onConfirm()
  assert.strictEqual(page.data.state, 'confirmed', page.data.error)
  const st = await pc.status()
  assert.strictEqual(st.status, 'confirmed')
  const t = await f.httpRequest({ url: f.env.base_url + '/v1/login', method: 'POST', data: { ticket: st.ticket },
    header: { 'Content-Type': 'application/json', Cookie: pc.cookie } })
  assert.strictEqual(t.statusCode, 200)
  const me = (await f.httpRequest({ url: f.env.base_url + '/v1/session', method: 'GET',
    header: { Authorization: 'Bearer ' + t.data.access_token } })).data
  const phoneUser = JSON.parse(wx.storage.get('wxauth:' + f.APPID)).user.id
  assert.strictEqual(me.user.id, phoneUser)
  assert.strictEqual(wx.calls.login, 1)
})

test('the scan confirmation page: cancel, and a code someone else scanned', async () => {
  const pc = await pcRequest()
  const first = loadPage(f.fakeWx(f.person('scanfirst')), 'pages/scan/scan.js')
  await first.onLoad({ scene: encodeURIComponent(pc.id) })
  assert.strictEqual(first.data.state, 'scanned')
  const second = loadPage(f.fakeWx(f.person('scansecond')), 'pages/scan/scan.js')
  await second.onLoad({ scene: encodeURIComponent(pc.id) })
  assert.strictEqual(second.data.state, 'refused')
  assert.strictEqual(second.data.error, 'scan_taken')
  assert.strictEqual((await pc.status()).refused, 1)
  await first.onCancel()
  assert.strictEqual(first.data.state, 'cancelled')
  assert.strictEqual((await pc.status()).status, 'cancelled')
})
