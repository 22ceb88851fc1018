/*
 * wxauth-miniprogram - the mini-program half of wxauth (README, "The
 * mini-program side"). Plain ES2017 and CommonJS, no dependency: WeChat's
 * npm build copies this folder as it is.
 *
 *   const { createClient } = require('wxauth-miniprogram')
 *   const auth = createClient({ baseURL: 'https://shop.example', appid: 'wx…' })
 *   const orders = await auth.request({ url: '/api/orders' })
 *
 * What it promises:
 * - one login however many requests wait for it (one wx.login, one
 *   POST /v1/login), and one refresh however many requests find the token
 *   expired (one POST /v1/token/refresh): the waiters share the outcome;
 * - a token refreshed ahead of its expiry, and on a 401 token_expired or
 *   invalid_token refreshed once and the request retried once; on
 *   session_revoked, or a refresh refused, one new login and one retry;
 *   never a loop, never a request without a token;
 * - every other failure surfaced as a WxauthError with the server's error
 *   name (err.error), status (err.status) and request id (err.requestId);
 *   a network failure is error "network", status 0. Stored tokens are kept
 *   unless the server said they are no good.
 * - tokens in storage under one key (storageKey, default "wxauth:<appid>"),
 *   removed on logout and when the session is over; nothing else written.
 */
'use strict'

class WxauthError extends Error {
  constructor (status, error, message, requestId, retryAfter) {
    super(message || error)
    this.name = 'WxauthError'
    this.status = status
    this.error = error
    this.requestId = requestId || null
    this.retryAfter = retryAfter
  }
}

function promisify (api, fn, opts, pick) {
  return new Promise(function (resolve, reject) {
    api[fn](Object.assign({}, opts, {
      success: function (r) { resolve(pick ? pick(r) : r) },
      fail: function (e) { reject(e) }
    }))
  })
}

/* wx, or uni-app's uni (the same shape, callbacks). */
function callbackAdapter (api) {
  return {
    request: function (o) {
      return promisify(api, 'request', { url: o.url, method: o.method, data: o.data, header: o.header },
        function (r) { return { statusCode: r.statusCode, data: r.data, header: r.header || {} } })
    },
    login: function () {
      return promisify(api, 'login', {}, function (r) { return r.code })
    },
    storage: {
      get: function (k) { return api.getStorageSync(k) },
      set: function (k, v) { api.setStorageSync(k, v) },
      remove: function (k) { api.removeStorageSync(k) }
    },
    readFile: function (path) {
      return promisify(api.getFileSystemManager(), 'readFile', { filePath: path, encoding: 'base64' },
        function (r) { return r.data })
    }
  }
}

/* Taro: the same calls, returning promises. */
function taroAdapter (Taro) {
  return {
    request: function (o) {
      return Taro.request({ url: o.url, method: o.method, data: o.data, header: o.header })
        .then(function (r) { return { statusCode: r.statusCode, data: r.data, header: r.header || {} } })
    },
    login: function () { return Taro.login().then(function (r) { return r.code }) },
    storage: {
      get: function (k) { return Taro.getStorageSync(k) },
      set: function (k, v) { Taro.setStorageSync(k, v) },
      remove: function (k) { Taro.removeStorageSync(k) }
    },
    readFile: function (path) {
      return new Promise(function (resolve, reject) {
        Taro.getFileSystemManager().readFile({
          filePath: path,
          encoding: 'base64',
          success: function (r) { resolve(r.data) },
          fail: reject
        })
      })
    }
  }
}

const adapters = {
  wx: callbackAdapter,
  uni: callbackAdapter,
  taro: taroAdapter
}

function headerOf (header, name) {
  const want = name.toLowerCase()
  const keys = Object.keys(header || {})
  for (let i = 0; i < keys.length; i++) {
    if (keys[i].toLowerCase() === want) return header[keys[i]]
  }
  return undefined
}

function errorOf (res) {
  const body = res.data && typeof res.data === 'object' ? res.data : {}
  const retry = parseInt(headerOf(res.header, 'Retry-After'), 10)
  return new WxauthError(res.statusCode, body.error || 'http_' + res.statusCode, body.message,
    body.request_id || headerOf(res.header, 'X-Request-Id'), isNaN(retry) ? undefined : retry)
}

function sleep (ms) {
  return new Promise(function (resolve) { setTimeout(resolve, ms) })
}

/* once: fn's promise, shared by every caller until it settles. */
function once () {
  let flight = null
  return function (fn) {
    if (!flight) {
      flight = fn()
      const done = function () { flight = null }
      flight.then(done, done)
    }
    return flight
  }
}

function createClient (options) {
  const opts = options || {}
  if (!opts.baseURL || !opts.appid) throw new TypeError('createClient: baseURL and appid are required')
  const baseURL = String(opts.baseURL).replace(/\/+$/, '')
  const appid = opts.appid
  /* global wx */
  const adapter = opts.adapter || (typeof wx !== 'undefined' ? callbackAdapter(wx) : null)
  if (!adapter) throw new TypeError('createClient: no adapter (and no wx)')
  const storageKey = opts.storageKey || 'wxauth:' + appid
  const marginMs = (opts.refreshMargin === undefined ? 60 : opts.refreshMargin) * 1000
  const now = opts.now || Date.now
  const loginOnce = once()
  const refreshOnce = once()
  let state = load()

  function load () {
    try {
      const s = adapter.storage.get(storageKey)
      return s && typeof s === 'object' && s.access_token && s.refresh_token ? s : null
    } catch (e) {
      return null
    }
  }

  function save (s) {
    state = s
    if (s) adapter.storage.set(storageKey, s)
    else adapter.storage.remove(storageKey)
  }

  function keep (j) {
    save({
      access_token: j.access_token,
      refresh_token: j.refresh_token,
      expires_at: now() + j.expires_in * 1000,
      user: j.user,
      account: j.account
    })
    return state
  }

  /* One HTTP exchange; a network failure becomes WxauthError "network". */
  function send (method, path, data, token, header) {
    const h = Object.assign({}, header || {})
    if (token) h.Authorization = 'Bearer ' + token
    if (data !== undefined) h['Content-Type'] = 'application/json'
    const url = /^https?:\/\//.test(path) ? path : baseURL + path
    return adapter.request({ url: url, method: method, data: data, header: h }).then(null, function (e) {
      throw new WxauthError(0, 'network', (e && (e.errMsg || e.message)) || 'the request failed')
    })
  }

  function login () {
    return loginOnce(function () {
      return adapter.login().then(function (code) {
        if (!code) throw new WxauthError(0, 'login_failed', 'wx.login gave no code')
        return send('POST', '/v1/login', { appid: appid, code: code })
      }).then(function (res) {
        if (res.statusCode !== 200) throw errorOf(res)
        return keep(res.data)
      })
    })
  }

  function refresh () {
    return refreshOnce(function () {
      const rt = state && state.refresh_token
      if (!rt) return Promise.reject(new WxauthError(401, 'invalid_token', 'no session'))
      return send('POST', '/v1/token/refresh', { refresh_token: rt }).then(function (res) {
        if (res.statusCode !== 200) throw errorOf(res)
        return keep(res.data)
      })
    })
  }

  /* renew: a new token instead of used, which the server refused (or which
   * is about to expire): unless someone renewed it meanwhile, a refresh,
   * or (revoked, or the refresh refused) a new login. */
  async function renew (used, revoked) {
    if (state && state.access_token !== used) return state.access_token
    if (!revoked && state) {
      try {
        return (await refresh()).access_token
      } catch (e) {
        if (e.status !== 401) throw e
      }
    }
    if (state && state.access_token === used) save(null)
    return (await login()).access_token
  }

  /* token: a usable access token: a login on first need, a refresh ahead
   * of expiry. */
  async function token () {
    if (!state) return (await login()).access_token
    if (now() >= state.expires_at - marginMs) return renew(state.access_token, false)
    return state.access_token
  }

  async function request (o) {
    const method = (o.method || 'GET').toUpperCase()
    let tok = await token()
    let res = await send(method, o.url, o.data, tok, o.header)
    const why = res.statusCode === 401 && res.data && res.data.error
    if (why === 'token_expired' || why === 'invalid_token' || why === 'session_revoked') {
      tok = await renew(tok, why === 'session_revoked')
      res = await send(method, o.url, o.data, tok, o.header)
    } else if (res.statusCode === 503 && (method === 'GET' || method === 'HEAD')) {
      const e = errorOf(res)
      if (e.retryAfter !== undefined && e.retryAfter <= 2) {
        await sleep(e.retryAfter * 1000)
        res = await send(method, o.url, o.data, tok, o.header)
      }
    }
    if (res.statusCode === 401 && res.data && res.data.error === 'session_revoked' &&
        state && state.access_token === tok) save(null)
    if (res.statusCode < 200 || res.statusCode > 299) throw errorOf(res)
    return res.data
  }

  async function logout (o) {
    const all = !!(o && o.all)
    const tok = state && state.access_token
    try {
      if (tok) {
        const res = await send('POST', '/v1/logout', all ? { all: true } : {}, tok)
        if (res.statusCode !== 200 && res.statusCode !== 401) throw errorOf(res)
      }
    } finally {
      save(null)
    }
  }

  async function decrypt (blob) {
    try {
      return await request({ url: '/v1/userinfo/decrypt', method: 'POST', data: blob })
    } catch (e) {
      if (e.error !== 'session_key_stale') throw e
      /* The blob was made with a session_key the server no longer has: a new
       * wx.login gives a new one; the old blob can never be read. */
      save(null)
      await login()
      e.askAgain = true
      throw e
    }
  }

  return {
    request: request,
    login: function () { save(null); return login().then(function (s) { return { user: s.user, account: s.account } }) },
    logout: logout,
    userinfo: function () { return request({ url: '/v1/userinfo' }) },
    updateProfile: function (p) { return request({ url: '/v1/userinfo', method: 'PATCH', data: p }) },
    uploadAvatar: function (path) {
      return adapter.readFile(path).then(function (b64) {
        return request({ url: '/v1/avatar', method: 'POST', data: { image: b64 } })
      })
    },
    phone: function (code) { return request({ url: '/v1/phone', method: 'POST', data: { code: code } }) },
    decrypt: decrypt,
    get session () { return state ? { user: state.user, account: state.account } : null }
  }
}

module.exports = { createClient: createClient, WxauthError: WxauthError, adapters: adapters }
