// app.js of a mini-program that uses wxauth: one client for the whole app.
// (Install: npm i wxauth-miniprogram in the mini-program's folder, then
// "Tools > Build npm" in WeChat DevTools.)
const { createClient } = require('wxauth-miniprogram')

App({
  auth: createClient({ baseURL: 'https://shop.example', appid: 'wx1111111111111111' })
})
