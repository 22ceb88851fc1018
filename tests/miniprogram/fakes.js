// tests/miniprogram/fakes.js - what the client library's tests run it on:
// fake wx, uni and Taro objects whose request speaks real HTTP to the test
// environment's nginx, whose login hands out fresh codes of one person for
// the WeChat mock, whose storage is a Map; counters of everything they did.
'use strict'
const fs = require('fs')
const http = require('http')
const crypto = require('crypto')
const { execFileSync } = require('child_process')

const env = JSON.parse(fs.readFileSync(process.env.WXAUTH_ENV_JSON, 'utf8'))
const APPID = env.apps.find((a) => a.name === 'mp1').appid

/* One HTTP exchange: { statusCode, data (JSON parsed when it is), header }. */
function httpRequest (o) {
  return new Promise((resolve, reject) => {
    const u = new URL(o.url)
    const body = o.data !== undefined && o.method !== 'GET' ? JSON.stringify(o.data) : null
    const headers = Object.assign({}, o.header || {})
    if (body !== null) headers['Content-Length'] = Buffer.byteLength(body)
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: o.method, headers },
      (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString()
          let data = text
          try { data = JSON.parse(text) } catch (e) {}
          resolve({ statusCode: res.statusCode, data, header: res.headers })
        })
      })
    req.on('error', reject)
    req.setTimeout(15000, () => req.destroy(new Error('timeout')))
    if (body !== null) req.write(body)
    req.end()
  })
}

function person (prefix) {
  return (prefix || 'mp') + crypto.randomBytes(5).toString('hex')
}

/*
 * fakeWx(who, opts): a wx whose logins are codes of person who. opts.directive
 * puts a mock directive in every code; opts.hook(o, answer) may change what a
 * request's caller gets (answer: the real exchange's promise).
 */
function fakeWx (who, opts) {
  opts = opts || {}
  const calls = { login: 0, request: [], storageSet: 0 }
  const storage = new Map()
  let n = 0
  const wx = {
    calls,
    storage,
    request (o) {
      const rec = { url: o.url, method: o.method, auth: (o.header || {}).Authorization }
      calls.request.push(rec)
      let answer = httpRequest(o)
      if (opts.hook) answer = opts.hook(o, answer, rec)
      answer.then((r) => { rec.status = r.statusCode; o.success(r) },
        (e) => { rec.status = 0; o.fail({ errMsg: 'request:fail ' + e.message }) })
    },
    login (o) {
      calls.login++
      n++
      const code = [who].concat(opts.directive ? [opts.directive] : [])
        .concat([Date.now().toString(36) + n + crypto.randomBytes(3).toString('hex')]).join('.')
      setImmediate(() => o.success({ code, errMsg: 'login:ok' }))
    },
    getStorageSync (k) { return storage.has(k) ? JSON.parse(storage.get(k)) : '' },
    setStorageSync (k, v) { calls.storageSet++; storage.set(k, JSON.stringify(v)) },
    removeStorageSync (k) { storage.delete(k) },
    getFileSystemManager () {
      return {
        readFile (o) {
          fs.readFile(o.filePath, o.encoding, (err, data) => err ? o.fail({ errMsg: err.message }) : o.success({ data }))
        }
      }
    }
  }
  return wx
}

/* Taro's promise API over a fake wx. */
function fakeTaro (wx) {
  const p = (fn) => (o) => new Promise((resolve, reject) => wx[fn](Object.assign({}, o, { success: resolve, fail: reject })))
  return {
    calls: wx.calls,
    request: p('request'),
    login: p('login'),
    getStorageSync: (k) => wx.getStorageSync(k),
    setStorageSync: (k, v) => wx.setStorageSync(k, v),
    removeStorageSync: (k) => wx.removeStorageSync(k),
    getFileSystemManager: () => wx.getFileSystemManager()
  }
}

function getJSON (url) {
  return httpRequest({ url, method: 'GET', header: {} }).then((r) => r.data)
}

/* The mock's call counters ({jscode2session: N, ...}). */
async function mockCalls () {
  return (await getJSON(env.mock_url + '/_mock/stats')).calls
}

/* wxauth_requests_total{route=ROUTE} summed over statuses, from /metrics. */
async function served (route) {
  const r = await httpRequest({ url: env.base_url + '/metrics', method: 'GET', header: {} })
  let sum = 0
  for (const line of String(r.data).split('\n')) {
    const m = line.match(/^wxauth_requests_total\{route="([^"]+)",status="(\d+)"\} (\d+)/)
    if (m && m[1] === route) sum += Number(m[3])
  }
  return sum
}

/* A v4.local token for claims, from tests/tools/tokmint and the env's key file. */
function mint (claims) {
  return execFileSync(env.tokmint, [env.key_file, JSON.stringify(claims)]).toString().trim()
}

function iso (t) {
  return new Date(t * 1000).toISOString().replace(/\.\d+Z$/, '+00:00')
}

/* SQL through the env's psql, as the tests of tests/integ do. */
function sql (q) {
  return execFileSync(env.psql, ['-X', '-q', '-A', '-t', '-h', env.pg.host, '-p', String(env.pg.port),
    '-U', env.pg.user, '-d', env.pg.dbname, '-c', q]).toString().trim()
}

module.exports = { env, APPID, httpRequest, person, fakeWx, fakeTaro, mockCalls, served, mint, iso, sql }
