// pages/scan/scan.js - the confirmation page of the PC scan login (README,
// "Log in on a PC"): opened by scanning the code a PC shows, with the
// login request's id in query.scene. It tells wxauth the code was scanned
// (the PC shows "confirm on your phone"), then confirms or cancels. The
// person's own session (app.auth) is what logs the PC in.
const app = getApp()

Page({
  data: { state: 'loading', error: '' },

  step (what) {
    return app.auth.request({ url: '/v1/scan/' + encodeURIComponent(this.id) + '/' + what, method: 'POST' })
  },

  async onLoad (query) {
    // WeChat hands the scene URL-encoded.
    this.id = decodeURIComponent(query.scene || '')
    try {
      await this.step('scanned')
      this.setData({ state: 'scanned' })
    } catch (e) {
      // scan_taken: someone else scanned first; scan_over: expired or done.
      this.setData({ state: 'refused', error: e.error || String(e) })
    }
  },

  async onConfirm () {
    try {
      await this.step('confirm')
      this.setData({ state: 'confirmed' })
    } catch (e) {
      this.setData({ state: 'refused', error: e.error || String(e) })
    }
  },

  async onCancel () {
    try {
      await this.step('cancel')
    } catch (e) {}
    this.setData({ state: 'cancelled' })
  }
})
